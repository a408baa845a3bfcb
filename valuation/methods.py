"""Which engine method a job runs, built from the job's stored parameters."""

from __future__ import annotations

from valuation.core.catalog import make_model
from valuation.core.game import UtilityCache
from valuation.core.methods import ExactShapley, PermutationShapley, RowShapley
from valuation.core.stopping import MaxSamples, StandardErrorBelow, StoppingRule

#: With at most this many players every coalition is fitted once (2**n fits): the market's
#: bundle table is computed for tasks with at most this many candidate datasets.
EXACT_MAX_PLAYERS = 10

#: The payout basis: every row is a player and credits are computed without reading who
#: owns a row, so no grouping of rows into datasets or accounts changes anyone's total.
ROW_METHOD = "row_shapley"

#: Methods whose units are all planned when the job is created (the others run rounds of
#: samples until their stopping rule is met). Size-stratified sampling is the engine's (and
#: the CLI's) estimator for many players, not a job's: its second phase is planned from the
#: first phase's utilities, which every worker process would refit, and the market values
#: many players by their rows instead.
PLANNED_METHODS = ("exact", ROW_METHOD)

DEFAULT_MAX_SAMPLES = 200
DEFAULT_SAMPLES_PER_CHUNK = 10
DEFAULT_COALITIONS_PER_CHUNK = 64
#: Units of the row method per chunk (a unit is 128 fits with the default strata).
DEFAULT_ROW_UNITS_PER_CHUNK = 4


def units_per_chunk(method: str, spec: dict) -> int:
    """How many of a planned method's units one chunk does."""
    if method == ROW_METHOD:
        return spec.get("row_units_per_chunk", DEFAULT_ROW_UNITS_PER_CHUNK)
    return spec.get("coalitions_per_chunk", DEFAULT_COALITIONS_PER_CHUNK)


def stopping_rule(spec: dict) -> StoppingRule:
    rule: StoppingRule = MaxSamples(spec.get("max_samples", DEFAULT_MAX_SAMPLES))
    threshold = spec.get("se_threshold")
    if threshold:
        rule = rule | StandardErrorBelow(threshold, min_samples=spec.get("min_samples", 30))
    return rule


def build_estimator(method: str, spec: dict, seed: int, cache: UtilityCache | None = None):
    """The job's estimator; ``cache`` lets the chunks of a job on one worker process share
    the coalitions they have already fitted."""
    model = make_model(spec["model"], spec["task"])
    common = {"model": model, "scorer": spec["metric"], "cache": cache}
    if method == "exact":
        return ExactShapley(**common)
    if method == ROW_METHOD:
        return RowShapley(
            **common,
            random_state=seed,
            budget=spec.get("basis_fits"),
            floor=spec.get("floor", False),
            copies=spec.get("copies", False),
        )
    if method == "permutation":
        return PermutationShapley(
            **common,
            random_state=seed,
            stop=stopping_rule(spec),
            truncation=spec.get("truncation"),
        )
    raise ValueError(f"unknown valuation method {method!r}")
