"""Datasets: browse and search, a dataset's page, download, and a provider's upload,
own datasets and earnings."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render

from config.throttling import throttled
from marketplace.models import Dataset
from marketplace.quality import DatasetQuality
from marketplace.selectors.datasets import (
    dataset_browse,
    dataset_entitlement,
    dataset_label_columns,
    dataset_owned,
    dataset_quality_for,
    dataset_visible,
)
from marketplace.selectors.insights import dataset_quality_from_tasks
from marketplace.selectors.tasks import payout_list
from marketplace.selectors.wallet import wallet_summary
from marketplace.services.datasets import dataset_create, dataset_download
from marketplace.services.errors import ServiceError
from marketplace.web.access import role_required, roles_of
from marketplace.web.charts import Bar, bar_chart
from marketplace.web.formatting import points, sentence
from marketplace.web.forms import BrowseForm, DatasetUploadForm

PAGE_SIZE = 20
LICENSES = ("CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "ODbL-1.0", "Proprietary")
QUALITY_LABELS = {
    "duplicate_rows_within_file": ("Repeated rows within the file", "{:,}"),
    "overlap_with_other_providers": ("Rows also in another provider's data", "{:.0%}"),
}
REMOVAL_LABELS = {
    "suspects": "Likely mislabeled or harmful rows",
    "duplicates": "Repeated rows",
    "outliers": "Outliers",
    "all": "All of them",
}
#: Rows listed per kind on the report (the counts and measured changes cover every row).
LISTED_ROWS = 20


@login_required
def browse(request):
    form = BrowseForm(request.GET)
    datasets = dataset_browse(user=request.user, **form.criteria())
    page = Paginator(datasets, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "labels": dataset_label_columns(user=request.user),
        "filtered": any(request.GET.get(name) for name in form.fields if name != "sort"),
    }
    return render(request, "web/datasets/browse.html", context)


@login_required
def dataset_detail(request, pk: int):
    dataset = get_object_or_404(dataset_visible(user=request.user), pk=pk)
    quality = dataset_quality_for(user=request.user, dataset=dataset)
    columns = [c["name"] for c in dataset.schema["features"]] + [dataset.label_column]
    context = {
        "dataset": dataset,
        "is_owner": dataset.owner_id == request.user.pk,
        "entitlement": dataset_entitlement(user=request.user, dataset=dataset),
        "is_consumer": "consumer" in roles_of(request.user),
        "columns": columns,
        # Stored rows are JSON objects whose key order the database may change: go by name.
        "preview": [[row.get(name) for name in columns] for row in dataset.preview],
        "quality": _quality(quality),
    }
    if quality is not None:
        context["report"] = _report(dataset, quality)
        context["from_tasks"] = dataset_quality_from_tasks(dataset)
    return render(request, "web/datasets/detail.html", context)


def _report(dataset: Dataset, quality: DatasetQuality) -> dict | None:
    """The screening's intrinsic report, shaped for the page: a chart of the measured change
    of each removal with its table, and the rows behind it (numbered from 1, as in the file)."""
    report = quality.report
    if report is None:
        return None
    removals = [
        {**removal.to_dict(), "label": REMOVAL_LABELS.get(removal.kind, removal.kind)}
        for removal in report.removals
    ]
    bars = [
        Bar(
            r["label"],
            100 * r["change"],
            100 * r["change"],
            100 * r["change"],
            tone="pos" if r["change"] >= 0 else "neg",
            note=f"{points(r['change'])} pts · {len(r['rows'])} rows",
        )
        for r in removals
    ]
    detectors = [
        k for k in ("knn-shapley", "data-oob", "lava") if k in (report.suspects or ({},))[0]
    ]
    return {
        "report": report,
        "removals": removals,
        "chart": bar_chart(
            bars,
            chart_id=f"report-{dataset.pk}",
            title=f"Measured change in {report.scorer} from removing each kind of row, in points",
            description="Each bar is a refit without the rows, scored on the other half of "
            "your data and averaged over both halves; right of zero, removing them helps.",
            axis_format=lambda v: f"{v:+g}",
        ),
        "detectors": detectors,
        "suspects": [
            {**row, "number": int(row["row"]) + 1, "scores": [row[k] for k in detectors]}
            for row in report.suspects[:LISTED_ROWS]
        ],
        "duplicates": [r + 1 for r in report.duplicates[:LISTED_ROWS]],
        "outliers": [r + 1 for r in report.outliers[:LISTED_ROWS]],
        "conflicts": [[r + 1 for r in group] for group in report.label_conflicts[:LISTED_ROWS]],
    }


@login_required
def dataset_file(request, pk: int):
    dataset = get_object_or_404(dataset_visible(user=request.user), pk=pk)
    try:
        file = dataset_download(
            user=request.user, dataset=dataset, neutralise=request.GET.get("neutralise") == "1"
        )
    except ServiceError as exc:
        raise PermissionDenied(f"{sentence(exc.message)}.") from None
    return FileResponse(file, as_attachment=True, filename=dataset.original_name)


@role_required("provider")
@throttled("upload")
def dataset_upload(request):
    form = DatasetUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            dataset = dataset_create(
                owner=request.user,
                upload=data["file"],
                title=data["title"],
                description=data["description"],
                license=data["license"],
                label_column=data["label_column"],
                reserve_price_cents=data["reserve_price"] or 0,
                preview_policy=data["preview_policy"],
            )
        except ServiceError as exc:
            form.show(exc)
        else:
            if dataset.status == Dataset.Status.HELD:
                messages.warning(request, f"“{dataset.title}” is held: {dataset.hold_reason}.")
            else:
                messages.success(
                    request,
                    f"“{dataset.title}” is uploaded and being screened; it goes on the market "
                    "once the checks pass.",
                )
            return redirect("web:dataset", pk=dataset.pk)
    context = {"form": form, "licenses": LICENSES}
    return render(request, "web/datasets/upload.html", context, status=400 if form.errors else 200)


def _quality(quality: DatasetQuality | None) -> list[tuple[str, str]]:
    """The upload's headline numbers (the screening's details have their own sections)."""
    if quality is None:
        return []
    return [
        (label, fmt.format(getattr(quality, key))) for key, (label, fmt) in QUALITY_LABELS.items()
    ]


@role_required("provider")
def my_datasets(request):
    datasets = [
        (d, _quality(dataset_quality_for(user=request.user, dataset=d)))
        for d in dataset_owned(user=request.user)
    ]
    screening = any(d.status == Dataset.Status.SCREENING for d, _ in datasets)
    return render(request, "web/datasets/mine.html", {"datasets": datasets, "screening": screening})


@role_required("provider")
def earnings(request):
    payouts = list(payout_list(user=request.user))
    per_dataset: dict[int, dict] = defaultdict(lambda: {"cents": 0, "sales": 0})
    for payout in payouts:
        row = per_dataset[payout.dataset_id]
        row["dataset"] = payout.dataset
        row["cents"] += payout.amount_cents
        row["sales"] += 1
    context = {
        "payouts": payouts,
        "per_dataset": sorted(per_dataset.values(), key=lambda r: -r["cents"]),
        "wallet": wallet_summary(user=request.user),
    }
    return render(request, "web/provider/earnings.html", context)
