"""A consumer's tasks: submit one, watch its valuation, read the results, buy, download."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from marketplace.models import Task
from marketplace.selectors.datasets import dataset_for_sale, dataset_label_columns
from marketplace.selectors.tasks import order_list, task_list, task_spend_curve
from marketplace.selectors.wallet import wallet_summary
from marketplace.services.errors import InsufficientFunds, ServiceError
from marketplace.services.purchases import task_purchase
from marketplace.services.tasks import (
    IN_PROGRESS,
    task_cancel,
    task_jobs,
    task_status,
    task_submit,
)
from marketplace.services.tasks import task_progress as valuation_progress
from marketplace.web.access import role_required
from marketplace.web.formatting import money, sentence
from marketplace.web.forms import TaskForm
from marketplace.web.idempotency import new_key, run_once
from marketplace.web.results import task_results
from valuation.core.catalog import METRIC_LABELS, MODEL_LABELS
from valuation.models import ValuationJob


@dataclass(frozen=True)
class Progress:
    """Where a task's valuation is, in words and numbers."""

    phase: str
    fraction: float
    eta_seconds: float | None
    evaluations: int
    method: str
    finished: bool


#: What each job of a task does, for the progress box.
JOB_LABELS = {"row_shapley": "row-level Shapley (the split)", "exact": "every bundle scored"}


def progress_of(task: Task, status: str) -> Progress:
    jobs = task_jobs(task)
    info = valuation_progress(task) or {"fraction": 0.0, "eta_seconds": None}
    evaluations = info.get("utility_evaluations", 0)
    method = " + ".join(JOB_LABELS.get(job.method, job.method) for job in jobs)
    if status not in IN_PROGRESS:
        phase = {"quoted": "Priced", "purchased": "Bought"}.get(status, status.capitalize())
        fraction = 1.0 if status in (Task.Status.QUOTED, Task.Status.PURCHASED) else 0.0
        return Progress(phase, fraction, 0.0, evaluations, method, True)
    if info.get("waiting_for_broker"):
        phase = "Saved, waiting for the message queue to come back (nothing is lost)"
        return Progress(phase, info["fraction"], None, evaluations, method, False)
    if all(job.status == ValuationJob.Status.PENDING for job in jobs):
        return Progress("Waiting for a worker", 0.0, None, 0, method, False)
    if all(job.status == ValuationJob.Status.SUCCEEDED for job in jobs):
        # The jobs are done; a worker is pricing the result (marketplace.quote_task).
        return Progress("Pricing the result", 1.0, None, evaluations, method, False)
    return Progress(
        "Measuring what each dataset adds",
        info["fraction"],
        info["eta_seconds"],
        evaluations,
        method,
        False,
    )


@role_required("consumer")
def tasks(request):
    rows = [(task, task_status(task)) for task in task_list(user=request.user)]
    return render(request, "web/tasks/list.html", {"tasks": rows})


def _preselected(request, for_sale) -> list[int]:
    wanted = request.GET.get("candidate", "")
    return [d.pk for d in for_sale if str(d.pk) == wanted]


@role_required("consumer")
def task_new(request):
    for_sale = list(dataset_for_sale(user=request.user))
    form = TaskForm(
        request.POST or None,
        request.FILES or None,
        for_sale=for_sale,
        initial={"candidates": _preselected(request, for_sale)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            task = task_submit(consumer=request.user, **form.service_arguments())
        except InsufficientFunds:
            spendable = wallet_summary(user=request.user)["balance_cents"]
            form.add_error(
                "budget",
                f"Your wallet has {money(spendable)} to spend and this budget needs "
                f"{money(form.cleaned_data['budget'])}. Add funds on the Wallet page or lower "
                "the budget.",
            )
        except ServiceError as exc:
            form.show(exc)
        else:
            return redirect("web:task", pk=task.pk)
    context = {
        "form": form,
        "labels": dataset_label_columns(user=request.user),
        "wallet": wallet_summary(user=request.user),
        "for_sale": for_sale,
        "fee_percent": f"{settings.DATAFAIR_FEE_BPS / 100:g}%",
    }
    return render(request, "web/tasks/new.html", context, status=400 if form.errors else 200)


def _own_task(request, pk: int) -> Task:
    return get_object_or_404(task_list(user=request.user), pk=pk)


@login_required
def task_detail(request, pk: int):
    task = _own_task(request, pk)
    status = task_status(task)
    order = order_list(user=request.user).filter(task=task).first()
    context = {
        "task": task,
        "status": status,
        "progress": progress_of(task, status),
        "results": task_results(task, task_spend_curve(task=task)) if task.quote else None,
        "order": order,
        "entitlements": order.entitlements.select_related("dataset") if order else [],
        "metric_label": METRIC_LABELS.get(task.metric, task.metric),
        "model_label": MODEL_LABELS.get(task.model, task.model),
        "can_cancel": status in IN_PROGRESS or status == Task.Status.QUOTED,
    }
    return render(request, "web/tasks/detail.html", context)


@login_required
def task_progress(request, pk: int):
    """The live part of a running task's page, fetched again every few seconds."""
    task = _own_task(request, pk)
    status = task_status(task)
    context = {"task": task, "status": status, "progress": progress_of(task, status)}
    return render(request, "web/tasks/_progress.html", context)


@role_required("consumer")
def task_buy(request, pk: int):
    """Confirm, then buy: the form carries a once-only key, so a double click or a resubmit
    charges once."""
    task = _own_task(request, pk)
    error = ""
    if request.method == "POST":
        try:
            run_once(
                user=request.user,
                key=request.POST.get("confirmation", ""),
                action=f"purchase task:{task.pk}",
                work=lambda: {"order": task_purchase(task=task, user=request.user).pk},
            )
        except ServiceError as exc:
            error = sentence(exc.message)
        else:
            messages.success(request, "Bought. Your datasets are ready to download.")
            return redirect(reverse("web:task", args=[task.pk]) + "#downloads")
        task.refresh_from_db()
    elif task.status == Task.Status.PURCHASED:
        return redirect("web:task", pk=task.pk)
    results = task_results(task, None) if task.quote else None
    context = {
        "task": task,
        "results": results,
        "confirmation": new_key(),
        "error": error,
        "buyable": task.status == Task.Status.QUOTED and results is not None and results.sale,
        "release_cents": task.held_cents - (results.charge_cents if results else 0),
    }
    return render(request, "web/tasks/buy.html", context, status=409 if error else 200)


@require_POST
@login_required
def task_cancel_view(request, pk: int):
    task = _own_task(request, pk)
    try:
        task_cancel(task=task, user=request.user)
    except ServiceError as exc:
        messages.error(request, sentence(exc.message))
    else:
        messages.success(request, "Task cancelled; the held budget is back in your wallet.")
    return redirect("web:task", pk=task.pk)


@login_required
def downloads(request):
    orders = order_list(user=request.user).select_related("task")
    orders = orders.prefetch_related("entitlements__dataset")
    return render(request, "web/tasks/downloads.html", {"orders": orders})
