"""Datasets: browse, upload, read the data dictionary and preview, download when entitled;
staff review of held uploads."""

import django_filters
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiSchema, ErrorSerializer, UploadField, api_schema
from marketplace.api.permissions import IsProvider
from marketplace.api.quality import DatasetQualityOut
from marketplace.models import Dataset
from marketplace.selectors.datasets import (
    dataset_can_download,
    dataset_quality_for,
    dataset_visible,
)
from marketplace.selectors.insights import dataset_quality_from_tasks
from marketplace.services.datasets import (
    REVIEW_DECISIONS,
    dataset_create,
    dataset_download,
    dataset_review,
)
from marketplace.services.errors import PermissionDenied
from pricing.money import MAX_AMOUNT_CENTS


class DatasetOut(serializers.ModelSerializer):
    provider = serializers.CharField(source="owner.username")
    columns = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "title",
            "description",
            "license",
            "provider",
            "label_column",
            "task_type",
            "n_rows",
            "n_columns",
            "columns",
            "reserve_price_cents",
            "preview_policy",
            "status",
            "sales_count",
            "formula_cells",
            "created_at",
        ]
        extra_kwargs = {
            "formula_cells": {
                "help_text": "Rows per text column whose cell a spreadsheet would run as a "
                "formula (e.g. =HYPERLINK(...)); download with ?neutralise=true to get them "
                "as text."
            }
        }

    def get_columns(self, dataset) -> list[str]:
        return [c["name"] for c in dataset.schema["features"]]


class FlaggedRowOut(serializers.Serializer):
    row = serializers.IntegerField(help_text="Row of the dataset (0 = the first data row).")
    flagged_by = serializers.IntegerField(help_text="Tasks whose valuation flagged the row.")
    share = serializers.FloatField(help_text="Share of the valuing tasks that flagged it.")


class QualityFromTasksOut(serializers.Serializer):
    shown = serializers.BooleanField(
        help_text="False until enough different consumers' tasks have valued the dataset; "
        "then only the counts below are filled in."
    )
    consumers = serializers.IntegerField()
    tasks = serializers.IntegerField()
    min_consumers = serializers.IntegerField()
    metrics = serializers.ListField(child=serializers.CharField())
    mean_change = serializers.FloatField(
        allow_null=True,
        help_text="Mean measured metric change from removing the flagged rows, over tasks.",
    )
    rows = FlaggedRowOut(many=True)


class DatasetDetailOut(DatasetOut):
    schema = serializers.JSONField(help_text="Data dictionary: typed feature columns and label.")
    preview = serializers.JSONField(help_text="Rows the provider chose to show before purchase.")
    hold_reason = serializers.CharField(
        help_text="Why the dataset is held (or was rejected), with the measured number; "
        "empty when it is on sale."
    )
    quality = serializers.SerializerMethodField(
        help_text="The owner's: upload checks, what the screening measured and the quality "
        "report on the file alone; null for others."
    )
    quality_from_tasks = serializers.SerializerMethodField(
        help_text="The owner's: what consumers' tasks found, as aggregates; null for others."
    )
    entitled = serializers.SerializerMethodField()

    class Meta(DatasetOut.Meta):
        fields = DatasetOut.Meta.fields + [
            "schema",
            "preview",
            "hold_reason",
            "quality",
            "quality_from_tasks",
            "entitled",
        ]

    def _viewer(self):
        return self.context["request"].user

    def _is_owner(self, dataset) -> bool:
        return dataset.owner_id == self._viewer().pk

    @extend_schema_field(DatasetQualityOut(allow_null=True))
    def get_quality(self, dataset) -> dict | None:
        quality = dataset_quality_for(user=self._viewer(), dataset=dataset)
        return None if quality is None else DatasetQualityOut(quality).data

    @extend_schema_field(QualityFromTasksOut(allow_null=True))
    def get_quality_from_tasks(self, dataset) -> dict | None:
        return dataset_quality_from_tasks(dataset) if self._is_owner(dataset) else None

    def get_entitled(self, dataset) -> bool:
        return dataset_can_download(user=self._viewer(), dataset=dataset)


class DatasetUploadIn(serializers.Serializer):
    file = UploadField(help_text="CSV (UTF-8, header line) or Parquet.")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    license = serializers.CharField(max_length=100)
    label_column = serializers.CharField(max_length=200)
    reserve_price_cents = serializers.IntegerField(
        min_value=0, max_value=MAX_AMOUNT_CENTS, default=0
    )
    preview_policy = serializers.ChoiceField(choices=Dataset.Preview.choices, default="head")


class DatasetFilter(django_filters.FilterSet):
    min_rows = django_filters.NumberFilter(field_name="n_rows", lookup_expr="gte")
    max_reserve_cents = django_filters.NumberFilter(
        field_name="reserve_price_cents", lookup_expr="lte"
    )
    provider = django_filters.CharFilter(field_name="owner__username")
    mine = django_filters.BooleanFilter(method="filter_mine")

    class Meta:
        model = Dataset
        fields = ["label_column", "task_type", "status"]

    def filter_mine(self, queryset, name, value):
        return queryset.filter(owner=self.request.user) if value else queryset


class DatasetListApi(generics.ListCreateAPIView):
    schema = ApiSchema()
    serializer_class = DatasetOut
    filterset_class = DatasetFilter
    search_fields = ["title", "description", "label_column"]
    ordering_fields = ["created_at", "reserve_price_cents", "n_rows", "sales_count", "title"]
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "upload"  # each upload queues a screening

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAuthenticated(), IsProvider()]
        return [IsAuthenticated()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Dataset.objects.none()
        return dataset_visible(user=self.request.user)

    @api_schema(
        request={"multipart/form-data": DatasetUploadIn},
        responses={201: DatasetDetailOut, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def post(self, request):
        data = DatasetUploadIn(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = dataset_create(
            owner=request.user, upload=data.validated_data.pop("file"), **data.validated_data
        )
        body = DatasetDetailOut(dataset, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class DatasetDetailApi(generics.RetrieveAPIView):
    schema = ApiSchema()
    serializer_class = DatasetDetailOut

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Dataset.objects.none()
        return dataset_visible(user=self.request.user)


class DownloadQuery(serializers.Serializer):
    neutralise = serializers.BooleanField(
        default=False,
        help_text="Prefix the CSV's formula cells (see formula_cells) with ' so spreadsheets "
        "show them as text; the file is otherwise unchanged.",
    )


class DatasetDownloadApi(APIView):
    schema = ApiSchema()

    @api_schema(
        parameters=[DownloadQuery],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request, pk: int):
        dataset = generics.get_object_or_404(dataset_visible(user=request.user), pk=pk)
        query = DownloadQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        # The file exactly as uploaded (unless neutralised); its name, not its bytes, would
        # decide a guessed type.
        return FileResponse(
            dataset_download(
                user=request.user, dataset=dataset, neutralise=query.validated_data["neutralise"]
            ),
            as_attachment=True,
            filename=dataset.original_name,
            content_type="application/octet-stream",
        )


class DatasetReviewApi(APIView):
    """Staff publish or reject a dataset that screening held."""

    schema = ApiSchema()

    class ReviewIn(serializers.Serializer):
        decision = serializers.ChoiceField(choices=list(REVIEW_DECISIONS))
        note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    @api_schema(
        request=ReviewIn,
        responses={
            200: DatasetDetailOut,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, pk: int):
        if not request.user.is_staff:
            raise PermissionDenied("only staff review held datasets")
        dataset = generics.get_object_or_404(Dataset.objects.all(), pk=pk)
        data = self.ReviewIn(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = dataset_review(dataset=dataset, user=request.user, **data.validated_data)
        return Response(DatasetDetailOut(dataset, context={"request": request}).data)
