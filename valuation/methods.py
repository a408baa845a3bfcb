"""Which engine method a job runs, built from the job's stored parameters."""

from __future__ import annotations

from valuation.core.catalog import make_model
from valuation.core.methods import ExactShapley, PermutationShapley
from valuation.core.stopping import MaxSamples, StandardErrorBelow, StoppingRule

#: With at most this many players every coalition is fitted once (2**n fits); beyond it,
#: permutation sampling with a stopping rule.
EXACT_MAX_PLAYERS = 10

DEFAULT_MAX_SAMPLES = 200
DEFAULT_SAMPLES_PER_CHUNK = 10
DEFAULT_COALITIONS_PER_CHUNK = 64


def choose_method(n_players: int) -> str:
    return "exact" if n_players <= EXACT_MAX_PLAYERS else "permutation"


def stopping_rule(spec: dict) -> StoppingRule:
    rule: StoppingRule = MaxSamples(spec.get("max_samples", DEFAULT_MAX_SAMPLES))
    threshold = spec.get("se_threshold")
    if threshold:
        rule = rule | StandardErrorBelow(threshold, min_samples=spec.get("min_samples", 30))
    return rule


def build_estimator(method: str, spec: dict, seed: int):
    model = make_model(spec["model"], spec["task"])
    if method == "exact":
        return ExactShapley(model=model, scorer=spec["metric"])
    if method == "permutation":
        return PermutationShapley(
            model=model,
            scorer=spec["metric"],
            random_state=seed,
            stop=stopping_rule(spec),
            truncation=spec.get("truncation"),
        )
    raise ValueError(f"unknown valuation method {method!r}")
