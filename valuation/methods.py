"""Which engine method a job runs, built from the job's stored parameters."""

from __future__ import annotations

from valuation.core.catalog import make_model
from valuation.core.game import UtilityCache
from valuation.core.methods import ExactShapley, PermutationShapley, RowShapley
from valuation.core.stopping import MaxSamples, StandardErrorBelow, StoppingRule
from valuation.spec import JobSpec

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


def units_per_chunk(method: str, spec: JobSpec) -> int:
    """How many of a planned method's units one chunk does."""
    return spec.row_units_per_chunk if method == ROW_METHOD else spec.coalitions_per_chunk


def stopping_rule(spec: JobSpec) -> StoppingRule:
    rule: StoppingRule = MaxSamples(spec.max_samples)
    if spec.se_threshold:
        rule = rule | StandardErrorBelow(spec.se_threshold, min_samples=spec.min_samples)
    return rule


def build_estimator(method: str, spec: JobSpec, seed: int, cache: UtilityCache | None = None):
    """The job's estimator; ``cache`` lets the chunks of a job on one worker process share
    the coalitions they have already fitted."""
    model = make_model(spec.model, spec.task)
    common = {"model": model, "scorer": spec.metric, "cache": cache}
    if method == "exact":
        return ExactShapley(**common)
    if method == ROW_METHOD:
        return RowShapley(
            **common,
            random_state=seed,
            budget=spec.basis_fits,
            floor=spec.floor,
            copies=spec.copies,
        )
    if method == "permutation":
        return PermutationShapley(
            **common,
            random_state=seed,
            stop=stopping_rule(spec),
            truncation=spec.truncation,
        )
    raise ValueError(f"unknown valuation method {method!r}")
