"""A quoted task's insights and row-level offer, shaped for the page: what to drop and the
measured change, the rows behind each wrong prediction, how few rows a conclusion rests on,
what each dataset's rows are worth, and where a row offer's money goes — each as chart +
table rows with a line saying why.

Nothing is decided here: the report and the offer come from
:func:`marketplace.selectors.insights.insight_for` (already filtered for the viewer, so a row
of an unbought dataset arrives without its position and label) and
:func:`~marketplace.services.insights.task_row_offer`; this module only words them and lays
out the charts. Pure functions of those records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.safestring import SafeString

from marketplace.selectors.insights import ReadableInsight
from marketplace.web.charts import Bar, Segment, bar_chart, stacked_column
from marketplace.web.formatting import MINUS, money, points
from marketplace.web.results import PROVIDER_TONES, SplitRow
from pricing.row_offer import RowOffer
from pricing.settlement import Settlement
from valuation.core.catalog import METRIC_LABELS
from valuation.core.report import (
    CoefficientFinding,
    Debug,
    InsightReport,
    LossFinding,
    Removal,
    RowRef,
    RowValues,
    SuspectRemoval,
)
from valuation.core.report import Sensitivity as SensitivityReport

OWN_DATA = "Your own data"
HIDDEN = "hidden until bought"
ROWS_SHOWN = 12  # row numbers listed in a line before "and N more"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _axis(value: float) -> str:
    return f"{value:+g}" if value else "0"


def _signed(value: float, decimals: int = 3) -> str:
    """A plain signed number with a real minus sign: ``-0.0175`` → ``"−0.018"``."""
    text = f"{value:+.{decimals}f}"
    return text.replace("-", MINUS) if float(text) else f"{0:.{decimals}f}"


def titles_of(report: InsightReport) -> dict[int, str]:
    """Dataset id → title, from the report's per-dataset sections (every candidate)."""
    titles: dict[int, str] = {}
    for item in [*report.rows.by_source, *report.prune.sources]:
        titles[int(item.source)] = item.title or f"Dataset {item.source}"
    return titles


def _title(dataset: int | str | None, titles: dict[int, str]) -> str:
    if dataset is None:
        return OWN_DATA
    return titles.get(int(dataset), f"Dataset {dataset}")


def row_list(rows: Iterable[int], *, limit: int = ROWS_SHOWN) -> str:
    """Row numbers as people count them (from 1): ``[0, 4, 9]`` → ``"rows 1, 5, 10"``."""
    rows = sorted(rows)
    shown = ", ".join(str(row + 1) for row in rows[:limit])
    more = f" and {len(rows) - limit:,} more" if len(rows) > limit else ""
    return f"{'row' if len(rows) == 1 else 'rows'} {shown}{more}" if rows else ""


# --- (1) suggestions --------------------------------------------------------------------------


@dataclass(frozen=True)
class RowsOf:
    """The suspect rows of one dataset: the ones the viewer may see and how many are hidden."""

    dataset_id: int | None
    title: str
    count: int
    shown: list[int]
    hidden: int

    @property
    def words(self) -> str:
        """``"3 rows (shown after purchase)"``, ``"rows 4, 9"``, or both when partly bought."""
        parts = [row_list(self.shown)] if self.shown else []
        if self.hidden:
            parts.append(f"{_plural(self.hidden, 'row')} (shown after purchase)")
        return "; ".join(parts)


@dataclass(frozen=True)
class Suggestion:
    """Dropping a dataset, or the suspect rows, and what the refit measured."""

    label: str
    title: str
    dataset_id: int | None
    rows: int
    score_before: float
    score_after: float
    change: float
    suggested: bool
    why: str
    rows_of: list[RowsOf] = field(default_factory=list)


def _verdict(item: Removal, what: str) -> str:
    """What the measured change and its 95% interval say about dropping ``what``."""
    interval = f"95% interval {points(item.change_lower)} to {points(item.change_upper)} pts"
    if item.suggested:
        return f"A confident gain ({interval}): drop {what}."
    if item.change > 0:
        return f"Within the noise of your validation rows ({interval}): no reason to drop {what}."
    return f"Dropping {what} would not help ({interval}): keep {what}."


def _measured(item: Removal, metric: str, *, what: str, cause: str, **fields) -> Suggestion:
    """A suggestion from one measured removal: ``cause`` says what was dropped, ``what``
    names it."""
    return Suggestion(
        score_before=item.score_before,
        score_after=item.score_after,
        change=item.change,
        suggested=item.suggested,
        why=f"{cause}: {metric.lower()} {item.score_before:.4f} → "
        f"{item.score_after:.4f}. " + _verdict(item, what),
        **fields,
    )


def _rows_of(dataset: int | None, refs: list[RowRef], titles: dict[int, str]) -> RowsOf:
    shown = [ref.row for ref in refs if ref.row is not None]
    return RowsOf(
        dataset_id=dataset,
        title=_title(dataset, titles),
        count=len(refs),
        shown=shown,
        hidden=len(refs) - len(shown),
    )


def suggestions(report: InsightReport, titles: dict[int, str], metric: str) -> list[Suggestion]:
    """Every candidate dataset and the suspect rows, each with its measured change; those
    whose gain is confident (the interval's lower end above 0) are the suggestions."""
    out = [
        _measured(
            item,
            metric,
            what="it",
            cause=f"Refitted without its {_plural(item.rows, 'row')}",
            label=f"{'Drop' if item.suggested else 'Without'} {title}",
            title=title,
            dataset_id=item.source,
            rows=item.rows,
        )
        for item in report.prune.sources
        for title in [_title(item.source, titles)]
    ]
    suspect = report.prune.suspects
    count = _plural(suspect.count, "suspect row")
    by_dataset = sorted(
        (_rows_of(dataset, refs, titles) for dataset, refs in suspect.by_player().items()),
        key=lambda rows: -rows.count,
    )
    out.append(
        _measured(
            suspect,
            metric,
            what="them",
            cause=f"The {report.suspect_share:.0%} of {_examined(suspect)} valued lowest "
            "by three methods (KNN-Shapley, Data-OOB, LAVA), refitted without",
            label=f"Drop the {count}",
            title=f"the {count}",
            dataset_id=None,
            rows=suspect.count,
            rows_of=by_dataset,
        )
    )
    return out


def _examined(suspect: SuspectRemoval) -> str:
    """Which training rows the detectors looked at: all, or a sample of how many."""
    if suspect.examined >= suspect.training_rows:
        return "all training rows"
    return f"a sample of {suspect.examined:,} of the {suspect.training_rows:,} training rows"


def points_chart(
    rows: list[tuple[str, float, str]], *, chart_id: str, title: str, description: str
) -> SafeString:
    """Bars of metric changes ``(label, change, note)`` in points, coloured by their sign."""
    bars = [
        Bar(label, change * 100, change * 100, change * 100, "pos" if change > 0 else "neg", note)
        for label, change, note in rows
    ]
    return bar_chart(
        bars, chart_id=chart_id, title=title, description=description, axis_format=_axis
    )


def suggestions_chart(rows: list[Suggestion], *, chart_id: str, metric: str) -> SafeString:
    return points_chart(
        [(row.label, row.change, f"{points(row.change)} pts") for row in rows],
        chart_id=chart_id,
        title=f"Change in {metric.lower()} from dropping each suggestion, in points",
        description="Each bar is measured: the model refitted without those rows and scored "
        "on your validation rows. Right of zero helps. The table beside has the same numbers.",
    )


# --- (2) wrong predictions --------------------------------------------------------------------


@dataclass(frozen=True)
class Driver:
    dataset_id: int | None
    title: str
    row: str
    label: str
    value: float


@dataclass(frozen=True)
class WrongPrediction:
    valid_row: int
    label: str
    predicted: str
    drivers: list[Driver]


def wrong_predictions(debug: Debug, titles: dict[int, str]) -> list[WrongPrediction]:
    """Each mispredicted validation row with the training rows that most pulled it away
    from its true label; a row of unbought data says it is hidden."""
    return [
        WrongPrediction(
            valid_row=point.valid_row + 1,
            label=str(point.label),
            predicted=str(point.predicted),
            drivers=[
                Driver(
                    dataset_id=d.player,
                    title=_title(d.player, titles),
                    row=HIDDEN if d.row is None else str(d.row + 1),
                    label=HIDDEN if d.label is None else str(d.label),
                    value=d.value,
                )
                for d in point.drivers
            ],
        )
        for point in debug.points
    ]


# --- (3) sensitivity --------------------------------------------------------------------------


def _decimals(a: float, b: float) -> int:
    """The fewest decimals (2 to 6) at which ``a`` and ``b`` read differently."""
    for decimals in range(2, 7):
        if f"{a:.{decimals}f}" != f"{b:.{decimals}f}":
            return decimals
    return 6


def rows_by_dataset(rows: tuple[RowRef, ...], titles: dict[int, str]) -> str:
    """Which rows a finding rests on, per dataset: ``"12 of Clinic A (rows 3, 8, …);
    16 of Triage (hidden until bought)"``."""
    grouped: dict[int | None, list[int | None]] = {}
    for row in rows:
        grouped.setdefault(row.player, []).append(row.row)
    parts = []
    for dataset, found in sorted(grouped.items(), key=lambda kv: -len(kv[1])):
        shown = [r for r in found if r is not None]
        where = row_list(shown) if len(shown) == len(found) else HIDDEN
        parts.append(f"{len(found):,} of {_title(dataset, titles)} ({where})")
    return "; ".join(parts)


def loss_sentence(loss: LossFinding, n_rows: int) -> str:
    """The loss finding in one sentence, with its refit."""
    decimals = _decimals(loss.original, loss.threshold)
    original, threshold = (f"{value:.{decimals}f}" for value in (loss.original, loss.threshold))
    if loss.k is None:
        return (
            f"No set of training rows was found whose removal would raise the {loss.name} "
            f"from {original} past {threshold}: this conclusion does not rest on a few rows."
        )
    head = (
        f"Dropping {loss.k:,} of {n_rows:,} training rows ({loss.share:.1%}) would "
        f"raise the {loss.name} from {original} past {threshold}"
    )
    if loss.refit is None:
        return f"{head}; a refit without them could not be done to confirm it."
    refit = f"{loss.refit:.{decimals}f}"
    if loss.confirmed:
        return f"{head} — confirmed by refitting ({refit})."
    return f"{head} — not confirmed: refitting without them gives {refit}."


@dataclass(frozen=True)
class Coefficient:
    name: str
    estimate: float
    k: int | None
    share: float | None
    refit: float | None
    confirmed: bool | None
    why: str

    @property
    def share_text(self) -> str:
        return "" if self.share is None else f"{self.share:.1%}"

    @property
    def verdict(self) -> str:
        if self.k is None:
            return "Robust"
        return {True: "Confirmed", False: "Not confirmed", None: "No refit"}[self.confirmed]


def coefficients(
    items: tuple[CoefficientFinding, ...], n_rows: int, titles: dict[int, str]
) -> list[Coefficient]:
    """The surrogate's coefficients, the most fragile (fewest rows to flip) first."""
    out = []
    for item in sorted(items, key=lambda c: (c.k is None, c.k or 0, c.name)):
        if item.k is None:
            why = "No set of rows was found whose removal flips its sign."
        else:
            why = (
                f"Dropping {item.k:,} of {n_rows:,} rows ({item.share:.1%}) is predicted "
                f"to flip its sign from {_signed(item.estimate)}"
                + (f"; the refit gives {_signed(item.refit)}." if item.refit is not None else ".")
                + f" Rows: {rows_by_dataset(item.rows, titles)}."
            )
        out.append(
            Coefficient(
                name=item.name,
                estimate=item.estimate,
                k=item.k,
                share=item.share,
                refit=item.refit,
                confirmed=item.confirmed,
                why=why,
            )
        )
    return out


@dataclass(frozen=True)
class Sensitivity:
    model: str
    n_rows: int
    sentence: str
    loss_rows: str
    coefficients: list[Coefficient]


def sensitivity(report: SensitivityReport, titles: dict[int, str]) -> Sensitivity:
    n_rows, loss = report.n_rows, report.loss
    return Sensitivity(
        model=report.model,
        n_rows=n_rows,
        sentence=loss_sentence(loss, n_rows),
        loss_rows=rows_by_dataset(loss.rows, titles) if loss.rows else "",
        coefficients=coefficients(report.coefficients, n_rows, titles),
    )


# --- (4) row values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetRows:
    dataset_id: int
    title: str
    rows: int
    positive_rows: int
    value_sum: float


def row_values(rows: RowValues) -> list[DatasetRows]:
    return [
        DatasetRows(
            dataset_id=item.source,
            title=item.title or f"Dataset {item.source}",
            rows=item.rows,
            positive_rows=item.positive_rows,
            value_sum=item.value_sum,
        )
        for item in sorted(rows.by_source, key=lambda i: (-i.value_sum, i.source))
    ]


def row_values_chart(rows: list[DatasetRows], *, chart_id: str, metric: str) -> SafeString:
    return points_chart(
        [
            (
                row.title,
                row.value_sum,
                f"{points(row.value_sum)} pts · {row.positive_rows:,} of {row.rows:,} rows help",
            )
            for row in rows
        ],
        chart_id=chart_id,
        title=f"Sum of each dataset's row values, in points of {metric.lower()}",
        description="Each row's KNN-Shapley value, summed per dataset; the note counts the "
        "rows with a positive value. The table beside has the same numbers.",
    )


# --- the section ------------------------------------------------------------------------------


@dataclass
class Insights:
    """Everything the "What the valuation found" section shows."""

    status: str
    error: str = ""
    metric_label: str = ""
    suggestions: list[Suggestion] = field(default_factory=list)
    suggestions_chart: SafeString | None = None
    wrong: list[WrongPrediction] = field(default_factory=list)
    n_valid: int = 0
    debug_error: str = ""
    looked_at: list[str] = field(default_factory=list)
    sensitivity: Sensitivity | None = None
    sensitivity_error: str = ""
    row_values: list[DatasetRows] = field(default_factory=list)
    row_values_chart: SafeString | None = None
    k: int = 0
    titles: dict[int, str] = field(default_factory=dict)

    @property
    def datasets_to_drop(self) -> list[Suggestion]:
        return [row for row in self.suggestions if row.dataset_id is not None and row.suggested]


def task_insights(seen: ReadableInsight, *, chart_prefix: str) -> Insights:
    """The section from :func:`~marketplace.selectors.insights.insight_for`'s answer."""
    report = seen.report
    out = Insights(status=seen.status, error=seen.error)
    if seen.status != "ready" or report is None:
        return out
    titles = titles_of(report)
    metric = METRIC_LABELS.get(report.metric, report.metric)
    out.metric_label, out.titles = metric, titles
    out.suggestions = suggestions(report, titles, metric)
    out.suggestions_chart = suggestions_chart(
        out.suggestions, chart_id=f"{chart_prefix}-prune", metric=metric
    )
    out.debug_error = report.debug.error
    out.wrong = wrong_predictions(report.debug, titles)
    out.n_valid = report.debug.n_valid
    out.looked_at = [_title(d, titles) for d in report.looked_at]
    if report.sensitivity.error:
        out.sensitivity_error = report.sensitivity.error
    else:
        out.sensitivity = sensitivity(report.sensitivity, titles)
    out.k = report.rows.k
    out.row_values = row_values(report.rows)
    if out.row_values:
        out.row_values_chart = row_values_chart(
            out.row_values, chart_id=f"{chart_prefix}-row-values", metric=metric
        )
    return out


# --- a row offer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferedRows:
    dataset_id: int
    title: str
    rows: list[int]
    price_cents: int
    payout_cents: int

    @property
    def words(self) -> str:
        return row_list(self.rows)


@dataclass
class RowOfferShown:
    """A row-level offer as the page shows it: the rows per dataset, the price and where
    the money goes."""

    budget_cents: int
    value: float
    price_cents: int
    key: str
    datasets: list[OfferedRows]
    split: list[SplitRow] = field(default_factory=list)
    split_chart: SafeString | None = None
    check: str = ""

    @property
    def rows(self) -> int:
        return sum(len(d.rows) for d in self.datasets)

    @property
    def buyable(self) -> bool:
        return self.price_cents > 0


def check_line(settlement: Settlement) -> str:
    """The sum that proves the split adds up to the charge, to the cent."""
    payouts = " + ".join(money(c) for _, c in sorted(settlement.payouts.items(), key=_by_id))
    return (
        f"Check: {money(settlement.charge_cents)} charged = {payouts or money(0)} to "
        f"providers + {money(settlement.fee_cents)} fee + "
        f"{money(settlement.withheld_cents)} reserve + "
        f"{money(settlement.refund_cents)} refund."
    )


def _by_id(item: tuple[str, object]) -> int:
    return int(item[0])


def _offer_split(offer: RowOffer, titles: dict[int, str]) -> list[SplitRow]:
    settlement = offer.settlement
    charge = settlement.charge_cents
    fee_percent = f"{settlement.fee_bps / 100:g}%"
    rows = []
    for i, (pid, cents) in enumerate(sorted(settlement.payouts.items(), key=_by_id)):
        count = len(offer.rows.get(pid, ()))
        rows.append(
            SplitRow(
                label=_title(pid, titles),
                cents=cents,
                share=cents / charge,
                tone=f"p{i % PROVIDER_TONES}",
                why=f"{_plural(count, 'row')} priced at {money(offer.row_cents[pid])} from "
                "their values; its share of the price after the fee.",
            )
        )
    rows.append(
        SplitRow(
            label="Platform fee",
            cents=settlement.fee_cents,
            share=settlement.fee_cents / charge,
            tone="fee",
            why=f"{fee_percent} of {money(charge)}, rounded down.",
        )
    )
    for cents, label, tone in (
        (settlement.withheld_cents, "Withheld (replication reserve)", "withheld"),
        (settlement.refund_cents, "Refunded to you (replication penalty)", "refund"),
    ):
        if cents:
            rows.append(SplitRow(label, cents, cents / charge, tone, "Replication."))
    return rows


def row_offer(offer: RowOffer, titles: dict[int, str], *, chart_id: str) -> RowOfferShown:
    """A stored row offer (:func:`~marketplace.services.insights.task_row_offer`) for the page."""
    payouts = offer.settlement.payouts if offer.settlement else {}
    out = RowOfferShown(
        budget_cents=offer.budget_cents,
        value=offer.value,
        price_cents=offer.price_cents,
        key=offer.key,
        datasets=[
            OfferedRows(
                dataset_id=int(pid),
                title=_title(pid, titles),
                rows=list(rows),
                price_cents=offer.row_cents[pid],
                payout_cents=payouts.get(pid, 0),
            )
            for pid, rows in sorted(offer.rows.items(), key=_by_id)
        ],
    )
    if offer.settlement:
        out.split = _offer_split(offer, titles)
        out.check = check_line(offer.settlement)
        out.split_chart = stacked_column(
            [Segment(r.label, r.cents, r.tone) for r in out.split],
            chart_id=chart_id,
            title=f"Where the {money(offer.price_cents)} goes",
            description="Each provider's payout for its rows and the platform fee.",
            fmt=money,
        )
    return out
