"""Staff review of the datasets screening held: the reasons and numbers, Publish or Reject."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render

from marketplace.models import Dataset
from marketplace.quality import DatasetQuality
from marketplace.services.datasets import dataset_review
from marketplace.services.errors import ServiceError
from marketplace.web.formatting import sentence


@login_required
def review(request):
    if not request.user.is_staff:
        raise PermissionDenied("This page is for staff: they review the datasets screening held.")
    if request.method == "POST":
        dataset = get_object_or_404(Dataset, pk=request.POST.get("dataset") or 0)
        decision = request.POST.get("decision", "")
        try:
            dataset_review(
                dataset=dataset,
                user=request.user,
                decision=decision,
                note=request.POST.get("note", "").strip(),
            )
        except ServiceError as exc:
            messages.error(request, sentence(exc.message))
        else:
            done = "published" if decision == "publish" else "rejected"
            messages.success(request, f"“{dataset.title}” is {done}.")
        return redirect("web:review")
    held = Dataset.objects.filter(status=Dataset.Status.HELD).select_related(
        "owner", "duplicate_of"
    )
    rows = [(dataset, _numbers(dataset)) for dataset in held.order_by("created_at", "id")]
    return render(request, "web/review.html", {"held": rows})


def _numbers(dataset: Dataset) -> list[tuple[str, str]]:
    """The screening's measurements, in words, for the reviewer."""
    quality = DatasetQuality.from_dict(dataset.quality)
    out = []
    if quality.overlap_with_other_providers:
        repeated = f"{quality.overlap_with_other_providers:.0%}"
        if dataset.duplicate_of is not None:
            repeated += f" (dataset #{dataset.duplicate_of_id} “{dataset.duplicate_of.title}”)"
        out.append(("Rows in another provider's data", repeated))
    if quality.similar_to:
        pk, sm = max(quality.similar_to.items(), key=lambda item: item[1])
        twin = Dataset.objects.filter(pk=int(pk)).values_list("title", flat=True).first()
        named = f" “{twin}”" if twin is not None else ""
        out.append(("Highest similarity", f"{sm:.2f} with dataset #{pk}{named}"))
    if quality.screening is None:
        return out
    flips = quality.screening.label_flips
    if flips is not None and flips.change_points is not None:
        out.append(
            (
                "Dropping flagged rows",
                f"{flips.change_points:+.1f} pts, p = {flips.p_value:.3f} "
                f"({flips.flagged_rows} rows, judged by {flips.reference})",
            )
        )
    trigger = quality.screening.trigger
    if trigger is not None:
        out.append(
            (
                "Trigger",
                f"{trigger.rows} rows with {trigger.column} = {trigger.value:g} "
                f"(z {trigger.z:.1f}), {trigger.label_share:.0%} labelled {trigger.label}",
            )
        )
    return out
