"""A quoted task's results, shaped for the page: contributions, the lift, where the price
goes and what each level of spend buys — each as chart + table rows, each number paired
with its line of the quote's explanation.

Nothing is computed here that the services did not decide: values, lift, exclusions and
cents come from the stored quote (:func:`marketplace.services.tasks.task_quote`) and the
curve from :func:`marketplace.selectors.tasks.task_spend_curve`; this module only reads
them, picks each number's explanation line by its kind and provider, and lays out the
charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.safestring import SafeString

from marketplace.web.charts import Bar, Point, Segment, bar_chart, stacked_column, step_curve
from marketplace.web.formatting import money, money_in_text, points, sentence
from pricing.bundle import BundleChoice
from pricing.explanation import ALL_AMOUNTS, Line
from pricing.shares import BELOW_RESERVE, HARMFUL, NO_CONTRIBUTION
from valuation.core.catalog import METRIC_LABELS

Z = 1.96  # the whisker half-width in standard errors, as in the quote's "harmful" test

EXCLUSION_WORDS = {
    HARMFUL: "Left out: it lowers your metric",
    NO_CONTRIBUTION: "Left out: no measurable effect",
    BELOW_RESERVE: "Left out: the price cannot meet its reserve",
}
PROVIDER_TONES = 6  # provider colours cycle through tone-p0 … tone-p5 in site.css


@dataclass
class Explained:
    """The quote's explanation as the page shows it (money as currency): general lines by
    kind, provider lines by provider id (only their text, beside the provider's number)."""

    general: dict[str, str] = field(default_factory=dict)
    provider: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def explain(lines: list[dict]) -> Explained:
    """Index a stored quote's explanation (:class:`pricing.explanation.Line` records)."""
    out = Explained()
    for line in map(Line.from_dict, lines):
        text = money_in_text(line.text, all_amounts=line.kind in ALL_AMOUNTS)
        out.lines.append(f"{money_in_text(line.heading)}: {text}")
        if line.kind == "provider":
            out.provider[line.provider] = sentence(text)
        elif line.kind == "left_out":
            out.left_out[line.provider] = sentence(text)
        else:
            out.general[line.kind] = out.lines[-1]
    return out


@dataclass(frozen=True)
class ContributionRow:
    dataset_id: int
    title: str
    value: float
    stderr: float
    in_bundle: bool
    status: str
    why: str

    @property
    def low(self) -> float:
        return self.value - Z * self.stderr

    @property
    def high(self) -> float:
        return self.value + Z * self.stderr


@dataclass(frozen=True)
class SplitRow:
    label: str
    cents: int
    share: float
    tone: str
    why: str


@dataclass(frozen=True)
class CurveRow:
    bundle: str
    price_cents: int
    lift: float
    value_cents: int
    within_budget: bool
    offered: bool


@dataclass(frozen=True)
class Basis:
    """What the contributions (and so the split) were measured on."""

    metric_label: str
    rows: int | None
    fits: int | None


def _basis(quote: dict, metric_label: str) -> Basis:
    basis = quote.get("basis")
    if basis is None:  # quotes made before the row-level basis: provider-level values
        return Basis(metric_label, None, None)
    label = METRIC_LABELS.get(basis["metric"], basis["metric"])
    return Basis(label, basis["rows"], basis["utility_evaluations"])


@dataclass
class Results:
    """Everything the results section of a task page shows."""

    sale: bool
    reason: str
    metric_label: str
    basis: Basis
    contributions: list[ContributionRow]
    contributions_chart: SafeString
    explained: Explained
    lift: dict | None = None
    lift_chart: SafeString | None = None
    split: list[SplitRow] = field(default_factory=list)
    split_chart: SafeString | None = None
    charge_cents: int = 0
    refund_cents: int = 0
    curve: list[CurveRow] = field(default_factory=list)
    curve_chart: SafeString | None = None
    curve_best: CurveRow | None = None

    @property
    def has_intervals(self) -> bool:
        """Whether any contribution was estimated with sampling error (exact ones are not)."""
        return any(row.stderr > 0 for row in self.contributions)

    @property
    def offer_on_curve(self) -> bool:
        return any(row.offered for row in self.curve)

    @property
    def offer_names(self) -> str:
        return ", ".join(row.title for row in self.contributions if row.in_bundle)


def _contributions(quote: dict, explained: Explained) -> list[ContributionRow]:
    rows = []
    for c in sorted(quote["contributions"], key=lambda c: (-c["value"], c["dataset"])):
        pid = str(c["dataset"])
        if c["in_bundle"]:
            status, why = "In the offer", explained.provider.get(pid, "")
        else:
            status = EXCLUSION_WORDS.get(c["excluded_because"], "Not in the offer")
            why = explained.left_out.get(pid, "")
        rows.append(
            ContributionRow(
                dataset_id=c["dataset"],
                title=c["title"] or f"Dataset {pid}",
                value=c["value"],
                stderr=c["stderr"],
                in_bundle=c["in_bundle"],
                status=status,
                why=why,
            )
        )
    return rows


def _tone(row: ContributionRow) -> str:
    if row.in_bundle:
        return "pos"
    return "neg" if row.value < 0 else "out"


def _value_note(row: ContributionRow) -> str:
    if row.stderr > 0:
        return f"{points(row.value)} ± {points(Z * row.stderr)[1:]} pts"
    return f"{points(row.value)} pts"


def _split(offer: dict, titles: dict[str, str], explained: Explained) -> list[SplitRow]:
    settlement = offer["settlement"]
    charge = settlement["charge_cents"]
    rows = [
        SplitRow(
            label=titles.get(pid, pid),
            cents=cents,
            share=cents / charge,
            tone=f"p{i % PROVIDER_TONES}",
            why=explained.provider.get(pid, ""),
        )
        for i, (pid, cents) in enumerate(sorted(settlement["payouts"].items(), key=_by_id))
    ]
    rows.append(
        SplitRow(
            "Platform fee",
            settlement["fee_cents"],
            settlement["fee_cents"] / charge,
            "fee",
            explained.general.get("fee", ""),
        )
    )
    for key, label, tone in (
        ("withheld_cents", "Withheld (replication reserve)", "withheld"),
        ("refund_cents", "Refunded to you (replication penalty)", "refund"),
    ):
        if settlement[key]:
            why = explained.general.get(tone, "")
            rows.append(SplitRow(label, settlement[key], settlement[key] / charge, tone, why))
    return rows


def _by_id(item: tuple[str, int]) -> int:
    return int(item[0])


def _curve(
    choice: BundleChoice, offer: dict, titles: dict[str, str]
) -> tuple[list[CurveRow], CurveRow | None]:
    offered = tuple(offer["bundle"])
    best = choice.best.bundle if choice.best is not None else None
    rows, best_row = [], None
    for point in choice.curve:
        row = CurveRow(
            bundle=", ".join(titles.get(pid, pid) for pid in point.bundle),
            price_cents=point.price_cents,
            lift=point.lift,
            value_cents=point.value_cents,
            within_budget=point.within_budget,
            offered=point.bundle == offered,
        )
        rows.append(row)
        if point.bundle == best:
            best_row = row
    return rows, best_row


def _points_axis(value: float) -> str:
    return f"{value:+g}" if value else "0"


def _add_lift(results: Results, quote: dict, chart_id: str) -> None:
    lift = quote["offer"]["lift"]
    results.lift = {
        **lift,
        "baseline_score": quote["baseline_score"],
        "bundle_score": quote["bundle_score"],
    }
    interval = f"{points(lift['lower'])} to {points(lift['upper'])}"
    bars = [
        Bar(
            f"Lift, {lift['confidence']:.0%} interval",
            lift["estimate"] * 100,
            lift["lower"] * 100,
            lift["upper"] * 100,
            "pos" if lift["lower"] > 0 else "out",
            f"{points(lift['estimate'])} ({interval})",
        ),
        Bar(
            "Confident lift: you pay for this",
            lift["lower"] * 100,
            lift["lower"] * 100,
            lift["lower"] * 100,
            "paid",
            f"{points(lift['lower'])} pts",
        ),
    ]
    results.lift_chart = bar_chart(
        bars,
        chart_id=chart_id,
        title=f"Lift in {results.metric_label.lower()}, in points, with its "
        f"{lift['confidence']:.0%} interval",
        description="You pay for the interval's lower end: the lift you can be confident in.",
        axis_format=_points_axis,
    )


def _add_split(results: Results, offer: dict, titles: dict[str, str], chart_id: str) -> None:
    settlement = offer["settlement"]
    results.charge_cents = settlement["charge_cents"]
    results.refund_cents = settlement["refund_cents"]
    results.split = _split(offer, titles, results.explained)
    results.split_chart = stacked_column(
        [Segment(r.label, r.cents, r.tone) for r in results.split],
        chart_id=chart_id,
        title=f"Where the {money(settlement['charge_cents'])} goes",
        description="Each provider's payout, the platform fee, and any withheld or refunded part.",
        fmt=money,
    )


def _add_curve(
    results: Results, choice: BundleChoice, offer: dict, titles: dict[str, str], task
) -> None:
    results.curve, results.curve_best = _curve(choice, offer, titles)
    results.curve_chart = step_curve(
        [
            Point(
                p.price_cents,
                p.lift * 100,
                f"{p.bundle}: {points(p.lift)} pts for at least {money(p.price_cents)}",
                highlight=p.offered,
            )
            for p in results.curve
        ],
        chart_id=f"curve-{task.pk}",
        title="Lift you can buy at each level of spend",
        description=(
            "Each point is the best bundle at its price: the least it sells for with every "
            "provider's reserve met. The ringed point is the offer."
        ),
        x_format=lambda cents: money(int(round(cents))).removesuffix(".00"),
        y_format=lambda v: f"{_points_axis(v)} pts",
        x_marker=(task.budget_cents, "your budget"),
    )


def task_results(task, curve: BundleChoice | None) -> Results | None:
    """The results of a task with a quote (None before the quote exists)."""
    quote = task.quote
    if not quote:
        return None
    offer = quote["offer"]
    titles = {
        str(c["dataset"]): c["title"] or f"Dataset {c['dataset']}" for c in quote["contributions"]
    }
    explained = explain(offer["explanation"])
    rows = _contributions(quote, explained)
    metric = METRIC_LABELS.get(quote["metric"], quote["metric"])
    bars = [
        Bar(r.title, r.value * 100, r.low * 100, r.high * 100, _tone(r), _value_note(r))
        for r in rows
    ]
    basis = _basis(quote, metric)
    results = Results(
        sale=offer["sale"],
        reason=offer["reason"],
        metric_label=metric,
        basis=basis,
        contributions=rows,
        contributions_chart=bar_chart(
            bars,
            chart_id=f"contributions-{task.pk}",
            title=f"What each dataset's rows add to your {basis.metric_label.lower()}, in points",
            description=(
                "Bars right of the zero line raise your metric, bars left of it lower it; "
                "whiskers show the 95% interval. The table beside has the same numbers."
            ),
            axis_format=_points_axis,
        ),
        explained=explained,
    )
    if offer["lift"] is not None:
        _add_lift(results, quote, f"lift-{task.pk}")
    if offer["sale"]:
        _add_split(results, offer, titles, f"split-{task.pk}")
    if curve is not None and curve.curve:
        _add_curve(results, curve, offer, titles, task)
    return results
