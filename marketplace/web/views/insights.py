"""A consumer's task insights and row-level buying: what the valuation found (what to drop,
the rows behind wrong predictions, how few rows a conclusion rests on, what the rows are
worth), a row offer within a budget, and buying it once however often the form is posted.

The services decide everything (:mod:`marketplace.services.insights`,
:func:`~marketplace.services.purchases.task_purchase`); :mod:`marketplace.web.insights`
words it for the page.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html

from marketplace.models import Order, Task, TaskInsight
from marketplace.selectors.insights import ReadableInsight, insight_for
from marketplace.selectors.tasks import task_list
from marketplace.services.errors import ServiceError
from marketplace.services.insights import task_row_offer
from marketplace.services.purchases import task_purchase
from marketplace.services.tasks import task_status
from marketplace.web.access import role_required
from marketplace.web.formatting import money, money_in_text, sentence
from marketplace.web.forms import CentsField, WebForm
from marketplace.web.idempotency import new_key, run_once
from marketplace.web.insights import row_offer, task_insights


class RowBudgetForm(WebForm):
    budget = CentsField(
        min_cents=1,
        label="Spend at most",
        help_text="The most valuable rows are picked first, each priced from its value, "
        "while they fit this amount.",
        error_messages={"min_value": "Enter an amount of at least $0.01."},
    )
    service_fields = {"budget_cents": "budget"}

    def __init__(self, *args, task: Task, **kwargs):
        super().__init__(*args, **kwargs)
        self.task = task

    def clean_budget(self) -> int:
        cents = self.cleaned_data["budget"]
        if cents > self.task.budget_cents:
            raise forms.ValidationError(
                f"This task's budget is {money(self.task.budget_cents)}; rows cannot cost "
                f"more than that (you asked for {money(cents)})."
            )
        return cents


def _own_task(request, pk: int) -> Task:
    return get_object_or_404(task_list(user=request.user), pk=pk)


def _buy_rows(request, task: Task, seen: ReadableInsight) -> dict:
    """The once-only work of a row purchase: buy the offer the page showed, not a newer one
    made in another tab meanwhile."""
    order = task_purchase(
        task=task,
        user=request.user,
        kind=Order.Kind.ROWS,
        offer_key=request.POST.get("offer", ""),
    )
    return {"order": order.pk, "rows": seen.row_offer.n_rows}


@role_required("consumer")
def task_rows(request, pk: int):
    """What the valuation found, a row offer within a budget, and buying it."""
    task = _own_task(request, pk)
    seen = insight_for(task=task, user=request.user)
    action = request.POST.get("action") if request.method == "POST" else None
    budget = seen.row_offer.budget_cents if seen.row_offer else task.budget_cents
    form = RowBudgetForm(
        request.POST if action == "offer" else None,
        task=task,
        initial={"budget": f"{budget // 100}.{budget % 100:02d}"},
    )
    error, status_code = "", 200
    if action == "buy":
        try:
            outcome = run_once(
                user=request.user,
                key=request.POST.get("confirmation", ""),
                action=f"purchase rows task:{task.pk}",
                work=lambda: _buy_rows(request, task, seen),
            )
        except ServiceError as exc:
            error, status_code = sentence(money_in_text(exc.message)), exc.status_code
        else:
            messages.success(
                request, f"Bought {outcome['rows']:,} rows. They are ready to download."
            )
            return redirect("web:downloads")
    elif action == "offer":
        if form.is_valid():
            try:
                task_row_offer(
                    task=task, user=request.user, budget_cents=form.cleaned_data["budget"]
                )
            except ServiceError as exc:
                if exc.field:
                    form.show(exc)
                else:
                    error = sentence(money_in_text(exc.message))
                status_code = exc.status_code
            else:
                return redirect(reverse("web:task-rows", args=[task.pk]) + "#row-offer")
        else:
            status_code = 400
    task.refresh_from_db()
    insights = task_insights(seen, chart_prefix=f"task-{task.pk}")
    offer = seen.row_offer
    context = {
        "task": task,
        "status": task_status(task),
        "insights": insights,
        "form": form,
        "offer": row_offer(offer, insights.titles, chart_id=f"row-split-{task.pk}")
        if offer
        else None,
        "confirmation": new_key(),
        "error": error,
        "can_offer": task.status == Task.Status.QUOTED and insights.status == "ready",
    }
    return render(request, "web/tasks/rows.html", context, status=status_code)


@login_required
def task_insights_status(request, pk: int):
    """The live note of insights being computed, fetched again every few seconds; it says
    ``data-finished`` once they are ready or failed, and the page reloads."""
    task = _own_task(request, pk)
    found = TaskInsight.objects.filter(task=task).values_list("status", flat=True).first()
    if found == TaskInsight.Status.PENDING:
        return HttpResponse(format_html("<p>{}</p>", "Still being computed…"))
    return HttpResponse(format_html("<p data-finished>{}</p>", "Done; showing them…"))
