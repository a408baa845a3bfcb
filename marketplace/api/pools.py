"""Label pools (active learning): upload unlabeled rows for a task, read the next batch to
annotate, send labels, export the labeled rows. A pool is its consumer's alone: anyone
else gets 404 for it, as for tasks."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiSchema, ErrorSerializer, UploadField, api_schema
from marketplace.api.permissions import IsConsumer
from marketplace.models import LabelPool
from marketplace.selectors.tasks import task_list
from marketplace.services.pools import (
    MAX_BATCH,
    STRATEGY_EXPLANATIONS,
    pool_create,
    pool_export,
    pool_label,
    pool_list,
    pool_next_batch,
    pool_note,
)


class PoolRowOut(serializers.Serializer):
    row = serializers.IntegerField(help_text="Position in your pool file, 0 for the first row.")
    score = serializers.FloatField(help_text="The strategy's score; higher is labeled sooner.")
    values = serializers.DictField(
        child=serializers.JSONField(), help_text="The row's feature values, by column."
    )


class PoolOut(serializers.ModelSerializer):
    strategy_explanation = serializers.SerializerMethodField()
    labeled = serializers.SerializerMethodField()
    unlabeled = serializers.SerializerMethodField()
    note = serializers.SerializerMethodField()

    class Meta:
        model = LabelPool
        fields = [
            "id",
            "task",
            "title",
            "strategy",
            "strategy_explanation",
            "batch_size",
            "n_rows",
            "labeled",
            "unlabeled",
            "rounds",
            "note",
            "created_at",
            "updated_at",
        ]

    def get_strategy_explanation(self, pool) -> str:
        return STRATEGY_EXPLANATIONS[pool.strategy]

    def get_labeled(self, pool) -> int:
        return len(pool.labels)

    def get_unlabeled(self, pool) -> int:
        return pool.n_rows - len(pool.labels)

    @extend_schema_field(
        serializers.CharField(
            help_text="Why the rows are not in the strategy's order yet (empty when they are)."
        )
    )
    def get_note(self, pool) -> str:
        return pool_note(pool)


class PoolDetailOut(PoolOut):
    next_batch = serializers.SerializerMethodField()

    class Meta(PoolOut.Meta):
        fields = PoolOut.Meta.fields + ["next_batch"]

    @extend_schema_field(PoolRowOut(many=True))
    def get_next_batch(self, pool):
        return pool_next_batch(pool)


class PoolIn(serializers.Serializer):
    file = UploadField(
        help_text="Unlabeled rows, CSV or Parquet, with exactly the task's feature columns."
    )
    strategy = serializers.ChoiceField(
        choices=LabelPool.Strategy.choices,
        default=LabelPool.Strategy.VALUE,
        help_text=" ".join(f"{key}: {text}" for key, text in STRATEGY_EXPLANATIONS.items()),
    )
    batch_size = serializers.IntegerField(min_value=1, max_value=MAX_BATCH, default=10)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class LabelIn(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row's position in the pool, from 0.")
    label = serializers.JSONField(
        help_text="A class of the task (as in its validation data), or a number for regression."
    )


class LabelsIn(serializers.Serializer):
    labels = LabelIn(many=True, allow_empty=False)

    def validate_labels(self, value):
        rows = [item["row"] for item in value]
        if len(set(rows)) != len(rows):
            raise serializers.ValidationError("each row may be labeled once per request")
        return value


class TaskPoolCreateApi(APIView):
    schema = ApiSchema()
    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [IsAuthenticated, IsConsumer]

    @api_schema(
        request={"multipart/form-data": PoolIn},
        responses={201: PoolDetailOut, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def post(self, request, pk: int):
        task = get_object_or_404(task_list(user=request.user), pk=pk)
        data = PoolIn(data=request.data)
        data.is_valid(raise_exception=True)
        pool = pool_create(
            task=task,
            user=request.user,
            upload=data.validated_data.pop("file"),
            **data.validated_data,
        )
        return Response(PoolDetailOut(pool).data, status=status.HTTP_201_CREATED)


class PoolListApi(generics.ListAPIView):
    schema = ApiSchema()
    serializer_class = PoolOut
    ordering_fields = ["created_at", "updated_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LabelPool.objects.none()
        return pool_list(user=self.request.user)


class PoolDetailApi(generics.RetrieveAPIView):
    schema = ApiSchema()
    serializer_class = PoolDetailOut

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LabelPool.objects.none()
        return pool_list(user=self.request.user)


class PoolLabelApi(APIView):
    schema = ApiSchema()
    parser_classes = [JSONParser]

    @api_schema(request=LabelsIn, responses={200: PoolDetailOut, 400: ErrorSerializer})
    def post(self, request, pk: int):
        pool = get_object_or_404(pool_list(user=request.user), pk=pk)
        data = LabelsIn(data=request.data)
        data.is_valid(raise_exception=True)
        labels = {item["row"]: item["label"] for item in data.validated_data["labels"]}
        pool = pool_label(pool=pool, user=request.user, labels=labels)
        return Response(PoolDetailOut(pool).data)


class PoolExportApi(APIView):
    schema = ApiSchema()

    @api_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The labeled rows: the pool's columns and the task's label column.",
            ),
            404: ErrorSerializer,
        }
    )
    def get(self, request, pk: int):
        pool = get_object_or_404(pool_list(user=request.user), pk=pk)
        response = HttpResponse(pool_export(pool), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="pool-{pool.pk}-labels.csv"'
        return response
