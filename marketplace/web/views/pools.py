"""A consumer's label pools: start one from a task, label the next batch, watch progress,
export the labels. The ranking is the service's; these pages only show it and pass labels on.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from marketplace.models import LabelPool
from marketplace.selectors.tasks import task_list
from marketplace.services.errors import ServiceError
from marketplace.services.pools import (
    MAX_BATCH,
    STRATEGY_EXPLANATIONS,
    pool_create,
    pool_export,
    pool_frame,
    pool_label,
    pool_list,
    pool_next_batch,
    pool_note,
)
from marketplace.web.access import role_required
from marketplace.web.charts import Bar, bar_chart
from marketplace.web.formatting import sentence
from marketplace.web.forms import TABLE_ACCEPT, WebForm
from marketplace.web.idempotency import new_key, run_once
from valuation.core.tabular import Schema

LABEL_FIELD = "label-"


class PoolForm(WebForm):
    title = forms.CharField(max_length=200, required=False, help_text="A name you will recognise.")
    file = forms.FileField(
        label="Unlabeled rows",
        help_text="CSV or Parquet with exactly this task's feature columns and no label column.",
        widget=forms.ClearableFileInput(attrs={"accept": TABLE_ACCEPT}),
    )
    strategy = forms.ChoiceField(
        label="Order of the rows",
        choices=[
            (key, f"{label}: {STRATEGY_EXPLANATIONS[key]}")
            for key, label in LabelPool.Strategy.choices
        ],
        initial=LabelPool.Strategy.VALUE,
        widget=forms.RadioSelect,
    )
    batch_size = forms.IntegerField(
        label="Rows per batch",
        min_value=1,
        max_value=MAX_BATCH,
        initial=10,
        help_text="How many rows you label before the rest is ranked again.",
    )


@role_required("consumer")
def pool_new(request, pk: int):
    task = get_object_or_404(task_list(user=request.user), pk=pk)
    form = PoolForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            pool = pool_create(
                task=task,
                user=request.user,
                upload=form.cleaned_data["file"],
                strategy=form.cleaned_data["strategy"],
                batch_size=form.cleaned_data["batch_size"],
                title=form.cleaned_data["title"],
            )
        except ServiceError as exc:
            form.show(exc)
        else:
            return redirect("web:pool", pk=pool.pk)
    context = {"task": task, "form": form, "features": Schema.from_dict(task.schema).features}
    return render(request, "web/pools/new.html", context, status=400 if form.errors else 200)


def _typed_labels(post) -> dict[int, str]:
    """The labels chosen on the batch form (blank ones are rows left for later)."""
    chosen = {}
    for name, value in post.items():
        if name.startswith(LABEL_FIELD) and value.strip():
            row = name.removeprefix(LABEL_FIELD)
            if row.isdigit():
                chosen[int(row)] = value.strip()
    return chosen


def _progress_chart(pool: LabelPool):
    labeled = len(pool.labels)
    rest = pool.n_rows - labeled
    return bar_chart(
        [
            Bar("Labeled", labeled, labeled, labeled, tone="pos", note=f"{labeled:,} rows"),
            Bar("Not yet labeled", rest, rest, rest, tone="out", note=f"{rest:,} rows"),
        ],
        chart_id=f"pool-{pool.pk}-progress",
        title="Rows labeled so far",
        description=f"{labeled} of the pool's {pool.n_rows} rows are labeled.",
        axis_format=lambda v: f"{v:,.0f}",
    )


@login_required
def pool_detail(request, pk: int):
    """The next batch to label as a form; a post stores its labels once (the form carries
    a once-only key, so a double click or a resubmit is one round)."""
    pool = get_object_or_404(pool_list(user=request.user), pk=pk)
    error, typed = "", {}
    if request.method == "POST":
        typed = _typed_labels(request.POST)
        try:
            run_once(
                user=request.user,
                key=request.POST.get("confirmation", ""),
                action=f"label pool:{pool.pk}",
                work=lambda: {
                    "rounds": pool_label(pool=pool, user=request.user, labels=typed).rounds
                },
            )
        except ServiceError as exc:
            error = sentence(exc.message)
        else:
            messages.success(request, "Labels saved; the remaining rows were ranked again.")
            return redirect("web:pool", pk=pool.pk)
    schema = Schema.from_dict(pool.task.schema)
    frame = pool_frame(pool)
    batch = [
        {**item, "cells": list(item["values"].values()), "typed": typed.get(item["row"], "")}
        for item in pool_next_batch(pool, frame)
    ]
    context = {
        "pool": pool,
        "task": pool.task,
        "explanation": STRATEGY_EXPLANATIONS[pool.strategy],
        "note": pool_note(pool),
        "columns": list(frame.columns),
        "batch": batch,
        "classes": [str(c) for c in schema.classes] if schema.task == "classification" else None,
        "labeled": len(pool.labels),
        "unlabeled": pool.n_rows - len(pool.labels),
        "chart": _progress_chart(pool),
        "confirmation": new_key(),
        "error": error,
    }
    return render(request, "web/pools/detail.html", context, status=400 if error else 200)


@login_required
def pool_export_view(request, pk: int):
    pool = get_object_or_404(pool_list(user=request.user), pk=pk)
    response = HttpResponse(pool_export(pool), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="pool-{pool.pk}-labels.csv"'
    return response
