"""What a task's valuation tells beyond the price, computed by a worker once a task is quoted.

For the consumer (``TaskInsight.report``):

* ``prune`` — the candidate datasets whose removal raises the metric, and the suspect rows
  (lowest ``suspect_share`` by the consensus of KNN-Shapley, Data-OOB and LAVA) with the
  metric measured after dropping them: refits on the consumer's validation rows, never
  predictions from the values;
* ``debug`` — for mispredicted validation rows, the training rows that pulled each
  prediction away from the true label (per-point KNN-Shapley,
  :func:`valuation.core.debugging.explain_mispredictions`);
* ``sensitivity`` — how many training rows must be dropped to flip a conclusion (AMIP,
  confirmed by refit, :func:`valuation.core.debugging.sensitivity_report`);
* ``rows`` — per-row KNN-Shapley values of every candidate row (kept in a file beside the
  report), the basis of row-level offers (:func:`task_row_offer`).

Debugging and sensitivity look at the data the consumer would buy: their own rows and the
offered bundle (every candidate when nothing is offered). For providers, each candidate
dataset gets a :class:`~marketplace.models.QualitySignal`: its rows among its own lowest
``suspect_share`` and the measured change from dropping them; providers only read those
through :func:`marketplace.selectors.insights.dataset_quality_from_tasks`.

Everything is stored whole; what a reader may see (rows of datasets they have not bought
stay hidden) is decided when it is read (:func:`insight_for`).
"""

from __future__ import annotations

import io
import json
import logging
from fractions import Fraction

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from marketplace.models import Dataset, QualitySignal, Task, TaskInsight
from marketplace.selectors.insights import entitled_rows
from marketplace.services.errors import Conflict, PermissionDenied, ServiceError
from pricing.money import check_cents
from pricing.settlement import settle
from valuation.core.acquisition import buy_top_rows, row_prices
from valuation.core.catalog import make_model
from valuation.core.dataset import Dataset as Rows
from valuation.core.debugging import explain_mispredictions, sensitivity_report
from valuation.core.methods.consensus import Consensus
from valuation.core.methods.knn import KNNShapley
from valuation.core.utility import ModelUtility
from valuation.data import cached_job_data

logger = logging.getLogger(__name__)

#: The group name of the consumer's own training rows (the task's baseline).
OWN = "own"


class _Universe:
    """The consumer's own rows and every candidate's rows in one grouped Dataset.

    ``dataset[i]`` is the dataset id of row ``i`` (−1 for the consumer's own rows) and
    ``position[i]`` its 0-based row in that dataset's file.
    """

    def __init__(self, task: Task) -> None:
        job = task.valuation_job
        data = cached_job_data(job.pk, json.dumps(job.spec, sort_keys=True))
        train, baseline = data.train, data.baseline
        names = train.player_names[train.player_of_row]
        parts_X, parts_y, parts_group = [train.X], [train.y], [names.astype(object)]
        if baseline is not None:
            parts_X.insert(0, baseline.X)
            parts_y.insert(0, baseline.y)
            parts_group.insert(0, np.full(baseline.n_rows, OWN, dtype=object))
        groups = np.concatenate(parts_group)
        self.feature_names = train.feature_names
        self.rows = Rows(
            np.concatenate(parts_X),
            np.concatenate(parts_y),
            groups=groups,
            feature_names=self.feature_names,
        )
        self.valid = data.valid
        self.dataset = np.array([-1 if g == OWN else int(g) for g in groups], dtype=np.int64)
        self.position = np.zeros(len(groups), dtype=np.int64)
        for name in np.unique(self.dataset):
            members = np.flatnonzero(self.dataset == name)
            self.position[members] = np.arange(members.size)
        self.task_type = job.spec["task"]
        self.seed = job.seed % (2**32)

    def subset(self, datasets: set[int]) -> np.ndarray:
        """Rows of the consumer's own data and of ``datasets``."""
        return np.flatnonzero((self.dataset == -1) | np.isin(self.dataset, list(datasets)))

    def grouped(self, rows: np.ndarray) -> Rows:
        """``rows`` as a Dataset grouped by dataset id (``own`` for the consumer's)."""
        names = np.array([OWN if d == -1 else str(d) for d in self.dataset[rows]], dtype=object)
        return Rows(
            self.rows.X[rows], self.rows.y[rows], groups=names, feature_names=self.feature_names
        )


def insight_schedule(task: Task) -> TaskInsight:
    """Create the task's pending insights and send them to a worker once this commits."""
    from marketplace.tasks import compute_insights

    insight, _ = TaskInsight.objects.get_or_create(task=task)
    transaction.on_commit(lambda: compute_insights.delay(task.pk))
    return insight


def insight_run(task_id: int) -> TaskInsight:
    """Compute a quoted task's insights (module docstring); a ready insight is left alone."""
    insight, _ = TaskInsight.objects.get_or_create(task_id=task_id)
    if insight.status == TaskInsight.Status.READY:
        return insight
    task = Task.objects.select_related("valuation_job").get(pk=task_id)
    try:
        report, values = _compute(task)
    except Exception as exc:  # the quote stands without insights; say why they are missing
        logger.exception("insights of task %s failed", task_id)
        insight.status = TaskInsight.Status.FAILED
        insight.error = str(exc) or type(exc).__name__
        insight.save(update_fields=["status", "error", "updated_at"])
        return insight
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **values)
    with transaction.atomic():
        insight.row_values_file.save("row-values.npz", ContentFile(buffer.getvalue()), save=False)
        insight.report = report
        insight.status = TaskInsight.Status.READY
        insight.error = ""
        insight.save()
    return insight


def _compute(task: Task) -> tuple[dict, dict[str, np.ndarray]]:
    options = settings.DATAFAIR_INSIGHTS
    universe = _Universe(task)
    model = make_model(task.model, universe.task_type)
    utility = ModelUtility(model, task.metric, task=universe.task_type)
    valid = universe.valid
    candidates = sorted(int(d) for d in np.unique(universe.dataset) if d >= 0)
    titles = dict(Dataset.objects.filter(pk__in=candidates).values_list("pk", "title"))

    consensus = Consensus(task=universe.task_type, k=options["k"], random_state=universe.seed)
    consensus.fit(Rows(universe.rows.X, universe.rows.y), valid)
    ranks = consensus.result_.values
    share = options["suspect_share"]
    # One game with rows as players: every removal below is a refit of the consumer's
    # model on the remaining rows, scored on their validation rows (the full fit is cached).
    game = utility.bind(Rows(universe.rows.X, universe.rows.y), valid)
    everyone = frozenset(range(universe.rows.n_rows))
    score = game.utility(everyone)

    def without(dropped: np.ndarray, **extra) -> dict:
        after = game.utility(everyone - set(dropped.tolist()))
        return {**extra, "score_before": score, "score_after": after, "change": after - score}

    def lowest(rows: np.ndarray) -> np.ndarray:
        count = max(1, int(round(share * rows.size)))
        return np.sort(rows[np.argsort(ranks[rows], kind="stable")[:count]])

    prune_datasets = []
    for dataset in candidates:
        rows = np.flatnonzero(universe.dataset == dataset)
        removal = without(rows, dataset=dataset, title=titles.get(dataset, ""), rows=int(rows.size))
        if removal["change"] > 0:
            prune_datasets.append(removal)
        suspects = lowest(rows)
        QualitySignal.objects.update_or_create(
            dataset_id=dataset,
            task=task,
            defaults={
                "suspects": universe.position[suspects].tolist(),
                "score_before": score,
                "score_after": without(suspects)["score_after"],
                "metric": task.metric,
            },
        )
    prune_datasets.sort(key=lambda item: -item["change"])
    suspects = lowest(np.arange(universe.rows.n_rows))

    offered = {int(d) for d in (task.quote or {}).get("offer", {}).get("bundle", [])}
    looked_at = universe.subset(offered or set(candidates))
    looked_at_data = universe.grouped(looked_at)
    report = {
        "metric": task.metric,
        "suspect_share": share,
        "prune": {
            "score": score,
            "datasets": prune_datasets,
            "rows": {
                **without(suspects),
                "count": int(suspects.size),
                "by_dataset": _by_dataset(universe, suspects),
            },
        },
        "debug": _debug(universe, looked_at_data, model, options["k"]),
        "sensitivity": _sensitivity(universe, looked_at_data),
        "looked_at": sorted(offered or set(candidates)),
    }
    knn = KNNShapley(k=options["k"], task=universe.task_type)
    values = knn.fit(Rows(universe.rows.X, universe.rows.y), valid).result_.values
    report["rows"] = {
        "k": options["k"],
        "by_dataset": [
            {
                "dataset": dataset,
                "title": titles.get(dataset, ""),
                "rows": int((universe.dataset == dataset).sum()),
                "positive_rows": int(((universe.dataset == dataset) & (values > 0)).sum()),
                "value_sum": float(values[universe.dataset == dataset].sum()),
            }
            for dataset in candidates
        ],
    }
    arrays = {"value": values, "dataset": universe.dataset, "position": universe.position}
    return report, arrays


def _by_dataset(universe: _Universe, rows: np.ndarray) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for dataset, position in zip(universe.dataset[rows], universe.position[rows], strict=True):
        out.setdefault(OWN if dataset == -1 else str(dataset), []).append(int(position))
    return out


def _player(name) -> int | None:
    return None if name in (None, OWN) else int(name)


def _located(item: dict) -> dict:
    """An engine row reference (``player``: group name) as the market names it (``dataset``:
    id, None for the consumer's own rows)."""
    out = {key: value for key, value in item.items() if key != "player"}
    return {"dataset": _player(item["player"]), **out}


def _debug(universe: _Universe, data: Rows, model, k: int) -> dict:
    if universe.task_type != "classification":
        return {"error": "explanations of mispredictions are for classification tasks"}
    points = explain_mispredictions(data, universe.valid, model=model, k=k)
    for point in points:
        point["drivers"] = [_located(driver) for driver in point["drivers"]]
    return {"points": points, "n_valid": universe.valid.n_rows}


def _sensitivity(universe: _Universe, data: Rows) -> dict:
    try:
        report = sensitivity_report(
            data, universe.valid, task=universe.task_type, random_state=universe.seed
        )
    except ValueError as exc:
        return {"error": str(exc)}
    for item in [report["loss"], *report["coefficients"]]:
        item["rows"] = [_located(row) for row in item["rows"]]
    return report


# --- row-level offers -------------------------------------------------------------------------


def _row_values(insight: TaskInsight) -> dict[str, np.ndarray]:
    with insight.row_values_file.open("rb") as handle, np.load(handle) as arrays:
        return {name: arrays[name] for name in arrays.files}


def task_row_offer(*, task: Task, user, budget_cents: int) -> dict:
    """Offer the most valuable candidate rows of a quoted task within ``budget_cents``.

    Each row is priced from its KNN-Shapley value at the task's value of a point,
    ``max(floor, round(100 · cents_per_point · value))`` where ``floor`` is the dataset's
    reserve spread over its rows (at least a cent); rows are taken from the most valuable
    down while they fit the budget (:func:`valuation.core.acquisition.buy_top_rows`), the
    charge is the sum of their prices, and the settlement splits it between the datasets'
    providers in proportion to what their rows cost, after the platform fee — exact cents.
    The offer is stored on the task's insights; buying it is ``task_purchase(kind="rows")``.
    """
    if task.consumer_id != user.pk:
        raise PermissionDenied("this is not your task")
    if task.status != Task.Status.QUOTED:
        raise Conflict(f"the task is {task.status}; rows are offered on a quoted task")
    insight = TaskInsight.objects.filter(task=task).first()
    if insight is None or insight.status != TaskInsight.Status.READY:
        raise Conflict("the row values of this task are not ready yet; try again shortly")
    try:
        check_cents(budget_cents, "budget_cents")
    except (TypeError, ValueError) as exc:
        raise ServiceError(str(exc), field="budget_cents") from None
    if budget_cents > task.budget_cents:
        raise ServiceError(
            f"the budget is {budget_cents} cents; this task's budget is {task.budget_cents}",
            field="budget_cents",
        )
    arrays = _row_values(insight)
    sold = arrays["dataset"] >= 0
    values, datasets, positions = (arrays[n][sold] for n in ("value", "dataset", "position"))
    listed = Dataset.objects.filter(pk__in=np.unique(datasets).tolist())
    floors = {
        d.pk: max(1, -(-d.reserve_price_cents // max(d.n_rows, 1)))
        for d in listed
        if d.status == Dataset.Status.PUBLISHED
    }
    on_sale = np.isin(datasets, list(floors))
    prices = row_prices(values, rate=100 * task.value_per_point_cents)
    prices = np.maximum(prices, [floors.get(int(d), 1) for d in datasets])
    values = np.where(on_sale, values, 0.0)
    chosen = buy_top_rows(values, prices, budget_cents)
    offer = {
        "budget_cents": budget_cents,
        "rows": {},
        "value": float(values[chosen].sum()),
        "price_cents": int(prices[chosen].sum()),
    }
    cents: dict[str, int] = {}
    for dataset in np.unique(datasets[chosen]).tolist():
        mine = chosen[datasets[chosen] == dataset]
        offer["rows"][str(dataset)] = positions[mine].tolist()
        cents[str(dataset)] = int(prices[mine].sum())
    charge = offer["price_cents"]
    offer["settlement"] = (
        settle(
            charge,
            {d: Fraction(c, charge) for d, c in cents.items()},
            fee_bps=settings.DATAFAIR_FEE_BPS,
        ).to_dict()
        if charge
        else None
    )
    offer["row_cents"] = cents
    insight.row_offer = offer
    insight.save(update_fields=["row_offer", "updated_at"])
    return offer


# --- reading ----------------------------------------------------------------------------------


def insight_for(*, task: Task, user) -> dict:
    """The task's insights as ``user`` may see them: rows of datasets they neither own nor
    bought are replaced by counts (``rows: None``), and a driver's or a dropped row's
    position and label are hidden."""
    if task.consumer_id != user.pk:
        raise PermissionDenied("this is not your task")
    insight = TaskInsight.objects.filter(task=task).first()
    if insight is None:
        return {"status": "none", "report": None, "row_offer": None, "error": ""}
    report = json.loads(json.dumps(insight.report))
    visible = entitled_rows(user=user, dataset_ids=task.candidates.values_list("pk", flat=True))

    def sees(dataset: int | None, row: int) -> bool:
        if dataset is None:
            return True
        allowed = visible.get(dataset, set())
        return allowed is None or row in allowed

    if report:
        by_dataset = report["prune"]["rows"]["by_dataset"]
        for name, rows in list(by_dataset.items()):
            dataset = _player(name)
            shown = [row for row in rows if sees(dataset, row)]
            by_dataset[name] = {"count": len(rows), "rows": shown, "hidden": len(rows) - len(shown)}
        for point in report.get("debug", {}).get("points", []):
            for driver in point["drivers"]:
                if not sees(driver["dataset"], driver["row"]):
                    driver["row"] = driver["label"] = None
        sensitivity = report.get("sensitivity", {})
        for item in [sensitivity.get("loss"), *sensitivity.get("coefficients", [])]:
            if item:
                item["rows"] = [
                    row if sees(row["dataset"], row["row"]) else {**row, "row": None}
                    for row in item["rows"]
                ]
    return {
        "status": insight.status,
        "report": report or None,
        "row_offer": insight.row_offer,
        "error": insight.error,
    }
