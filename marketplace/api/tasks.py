"""Tasks: submit (budget held, valuation started), follow progress, read the quote and the
insights, ask for a row-level offer, cancel, buy; orders and payouts."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiSchema, ErrorSerializer, UploadField, api_schema
from marketplace.api.idempotency import HEADER, idempotent
from marketplace.api.insights import InsightOut, RowOfferOut
from marketplace.api.permissions import IsConsumer, IsProvider
from marketplace.api.quotes import QuoteOut
from marketplace.models import Order, Payout, Task
from marketplace.selectors.insights import insight_for
from marketplace.selectors.tasks import order_list, payout_list, task_list
from marketplace.services.insights import task_row_offer
from marketplace.services.purchases import task_purchase
from marketplace.services.tasks import task_cancel, task_progress, task_status, task_submit
from pricing.money import MAX_AMOUNT_CENTS
from valuation.core.catalog import METRICS, MODELS


class ProgressOut(serializers.Serializer):
    fraction = serializers.FloatField(help_text="0 to 1, over the task's valuation jobs.")
    eta_seconds = serializers.FloatField(allow_null=True, help_text="Estimated seconds left.")
    method = serializers.CharField(
        help_text="The jobs: row_shapley (the payout basis), + exact (the bundle table) "
        "when there are at most ten candidates."
    )
    utility_evaluations = serializers.IntegerField(help_text="Models fitted so far.")
    waiting_for_broker = serializers.BooleanField(
        help_text="Part of the work is stored but not yet sent to the workers: the message "
        "queue is unreachable. It is sent when the queue is back; nothing is lost."
    )


class TaskOut(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    candidates = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "status",
            "label_column",
            "metric",
            "model",
            "budget_cents",
            "value_per_point_cents",
            "held_cents",
            "candidates",
            "progress",
            "error",
            "created_at",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=Task.Status.choices))
    def get_status(self, task) -> str:
        return task_status(task)

    @extend_schema_field(ProgressOut(allow_null=True))
    def get_progress(self, task):
        return task_progress(task)


class TaskDetailOut(TaskOut):
    quote = QuoteOut(
        allow_null=True,
        help_text="Contributions (value ± stderr per dataset), the lift with its interval, "
        "the price, fee, payouts and a plain-language explanation of every number.",
    )

    class Meta(TaskOut.Meta):
        fields = TaskOut.Meta.fields + ["quote"]


class TaskIn(serializers.Serializer):
    validation_file = UploadField(help_text="Your validation data, CSV or Parquet.")
    label_column = serializers.CharField(max_length=200)
    metric = serializers.ChoiceField(choices=list(METRICS))
    model = serializers.ChoiceField(choices=list(MODELS))
    budget_cents = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT_CENTS)
    value_per_point_cents = serializers.IntegerField(
        min_value=0,
        max_value=MAX_AMOUNT_CENTS,
        help_text="What 0.01 of metric improvement is worth.",
    )
    baseline_file = UploadField(required=False, help_text="Your own training data.")
    candidates = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        help_text="Dataset ids; default: every dataset that fits the task.",
    )
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class TaskListApi(generics.ListCreateAPIView):
    schema = ApiSchema()
    serializer_class = TaskOut
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["status", "metric", "model"]
    search_fields = ["title", "label_column"]
    ordering_fields = ["created_at", "budget_cents"]

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAuthenticated(), IsConsumer()]
        return [IsAuthenticated()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        return task_list(user=self.request.user)

    @api_schema(
        request={"multipart/form-data": TaskIn},
        responses={
            201: TaskDetailOut,
            400: ErrorSerializer,
            402: ErrorSerializer,
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many valuations started in the past hour; `retry_after` "
                "(and the Retry-After header) says how many seconds to wait.",
            ),
        },
    )
    def post(self, request):
        data = TaskIn(data=request.data)
        data.is_valid(raise_exception=True)
        task = task_submit(consumer=request.user, **data.validated_data)
        return Response(TaskDetailOut(task).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(generics.RetrieveAPIView):
    schema = ApiSchema()
    serializer_class = TaskDetailOut

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        return task_list(user=self.request.user)


class TaskCancelApi(APIView):
    schema = ApiSchema()

    @api_schema(request=None, responses={200: TaskDetailOut, 409: ErrorSerializer})
    def post(self, request, pk: int):
        task = get_object_or_404(task_list(user=request.user), pk=pk)
        return Response(TaskDetailOut(task_cancel(task=task, user=request.user)).data)


class PayoutOut(serializers.ModelSerializer):
    dataset_title = serializers.CharField(source="dataset.title")

    class Meta:
        model = Payout
        fields = [
            "id",
            "order",
            "dataset",
            "dataset_title",
            "amount_cents",
            "receipt",
            "created_at",
        ]


class OrderOut(serializers.ModelSerializer):
    datasets = serializers.SerializerMethodField()

    rows = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "kind",
            "task",
            "price_cents",
            "fee_cents",
            "withheld_cents",
            "refund_cents",
            "datasets",
            "rows",
            "created_at",
        ]

    def get_datasets(self, order) -> list[int]:
        return sorted(e.dataset_id for e in order.entitlements.all())

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField(allow_null=True)))
    def get_rows(self, order) -> dict[str, int | None]:
        """Rows bought of each dataset (null: the whole dataset)."""
        return {
            str(e.dataset_id): None if e.rows is None else len(e.rows)
            for e in order.entitlements.all()
        }


class OrderDetailOut(OrderOut):
    quote = QuoteOut(help_text="The task's quote the order bought from.")

    class Meta(OrderOut.Meta):
        fields = OrderOut.Meta.fields + ["quote"]


class PurchaseIn(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=Order.Kind.choices,
        default=Order.Kind.BUNDLE,
        help_text="bundle: the quote's offer of whole datasets; rows: the task's latest row "
        "offer (POST .../row-offer/ first).",
    )
    offer = serializers.CharField(
        required=False,
        max_length=64,
        help_text="For kind=rows: the row offer's `key`; refused (409) if a newer offer "
        "replaced it.",
    )


class TaskPurchaseApi(APIView):
    schema = ApiSchema()

    @api_schema(
        request=PurchaseIn,
        parameters=[
            OpenApiParameter(
                HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Any unique string; a retry with the same key is not charged again.",
            )
        ],
        responses={
            201: OrderDetailOut,
            400: ErrorSerializer,
            402: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
        },
    )
    def post(self, request, pk: int):
        def work():
            task = get_object_or_404(task_list(user=request.user), pk=pk)
            data = PurchaseIn(data=request.data)
            data.is_valid(raise_exception=True)
            order = task_purchase(
                task=task,
                user=request.user,
                kind=data.validated_data["kind"],
                offer_key=data.validated_data.get("offer"),
            )
            return Response(OrderDetailOut(order).data, status=status.HTTP_201_CREATED)

        return idempotent(request, work)


class TaskInsightApi(APIView):
    schema = ApiSchema()

    @api_schema(responses={200: InsightOut, 404: ErrorSerializer})
    def get(self, request, pk: int):
        task = get_object_or_404(task_list(user=request.user), pk=pk)
        return Response(InsightOut(insight_for(task=task, user=request.user)).data)


class RowOfferIn(serializers.Serializer):
    budget_cents = serializers.IntegerField(
        min_value=0, max_value=MAX_AMOUNT_CENTS, help_text="At most the task's budget."
    )


class TaskRowOfferApi(APIView):
    schema = ApiSchema()

    @api_schema(
        request=RowOfferIn,
        responses={
            200: RowOfferOut,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, pk: int):
        task = get_object_or_404(task_list(user=request.user), pk=pk)
        data = RowOfferIn(data=request.data)
        data.is_valid(raise_exception=True)
        offer = task_row_offer(task=task, user=request.user, **data.validated_data)
        return Response(RowOfferOut(offer).data)


class OrderListApi(generics.ListAPIView):
    schema = ApiSchema()
    serializer_class = OrderOut
    ordering_fields = ["created_at", "price_cents"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        return order_list(user=self.request.user)


class OrderDetailApi(generics.RetrieveAPIView):
    schema = ApiSchema()
    serializer_class = OrderDetailOut

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        return order_list(user=self.request.user)


class PayoutListApi(generics.ListAPIView):
    schema = ApiSchema()
    serializer_class = PayoutOut
    permission_classes = [IsAuthenticated, IsProvider]
    ordering_fields = ["created_at", "amount_cents"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Payout.objects.none()
        return payout_list(user=self.request.user)
