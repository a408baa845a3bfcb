"""Identity-proof payouts: what splitting or copying an upload earns a seller under
provider-level Shapley values and under the row-level payout basis, and what the basis
costs and how precise it is.

    python -m benchmarks manipulation                  # updates docs/benchmarks/manipulation.md
    python -m benchmarks manipulation --parts split    # one part (split, copies, estimators)

Money goes through :func:`pricing.quote.quote` as in the market (fee 10%, largest-remainder
cents, exclusions), with one price for every variant of a market (the same rows are sold),
so payouts differ only by their shares.

**split** — an honest provider and an attacker with as many disjoint rows of one
distribution; the attacker offers its rows as k = 1, 2, 4, 8 datasets (a random equal cut).
Four data sets and models: breast cancer with logistic regression (200 + 200 rows, 150 to
validate: the issue's case), digits with k-NN (400 + 400, 400), generated classification
(``make_classification``, 20 features) with logistic regression (600 + 600, 500), diabetes
with ridge regression (150 + 150, 142). Provider-level: exact Shapley of the (1 + k)-player
game on the buyer's metric (what the market paid by before). Row basis:
:class:`~valuation.core.methods.rows.RowShapley` on the payout metric (Brier score for
classification, R² for regression), one seed for every k.

**copies** — an honest provider (breast cancer, 200 rows) and an attacker with 200 rows of
its own who adds a second dataset copied from the honest one: exact, with noise (5% of each
feature's spread), half the rows with noise, or 40 copied rows hidden among 160 of its own.
The copier's take with the copy against without it, by the row basis alone, with
screening's hold (similarity ≥ 0.5 keeps the copy off the market), and with the quote's
replication penalty for what screening lets through.

**estimators** — cost and precision of the ways tried to estimate owners' totals of the
row game, on 10 providers × 200 rows of ``make_classification(n_samples=3000,
n_features=20, n_informative=10, random_state=0)`` (provider 3 with 40% of its labels
flipped), the market's logistic regression, 500 validation rows. Each runs 4 seeds;
"share error" is the standard deviation over seeds of an owner's share of the total, in
points of the pool (the largest over owners), "bias" the largest distance of an owner's
mean share from the row basis's own mean over its seeds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, make_classification

from benchmarks import DOCS, publish, table
from pricing.lift import Lift
from pricing.quote import ROW_BASIS, BundleValuation, quote
from pricing.shares import Contribution
from valuation.core import Dataset, ExactShapley, ModelUtility, RowShapley
from valuation.core.catalog import make_model, payout_metric
from valuation.core.detection import dataset_similarity
from valuation.core.game import Game, RunUtility
from valuation.core.methods import PermutationShapley
from valuation.core.stopping import MaxEvaluations, MaxSamples

REPORT = DOCS / "manipulation.md"
TITLE = "Identity-proof payouts"
SPLITS = (1, 2, 4, 8)
#: One price for every variant of a market: 100 points of confident lift at 100 cents.
LIFT, CENTS_PER_POINT, FEE_BPS = Lift(1.2, 1.0, 1.4, 0.95), 100, 1000
#: Screening's hold and chance level (config/settings/base.py).
SIMILARITY_HOLD, SIMILARITY_CHANCE = 0.5, 0.05


# --- money ---------------------------------------------------------------------------------


def payouts(values: dict[str, tuple[float, float]], similarity=None) -> dict[str, int]:
    """Cents per provider from contributions ``{id: (value, stderr)}`` through the quote."""
    contributions = tuple(Contribution(p, v, se) for p, (v, se) in sorted(values.items()))
    offer = quote(
        BundleValuation(contributions=contributions, lift=LIFT),
        budget_cents=10**9,
        cents_per_point=CENTS_PER_POINT,
        fee_bps=FEE_BPS,
        similarity=similarity,
        basis=ROW_BASIS,
    )
    return dict(offer.payouts)


def take(cents: dict[str, int], who: str) -> int:
    """What the accounts whose id starts with ``who`` receive together."""
    return sum(c for pid, c in cents.items() if pid.startswith(who))


# --- part 1: splitting an upload -----------------------------------------------------------


def _split_case(name: str):
    """(X, y, honest rows, attacker rows, validation rows, model name, task)."""
    rng = np.random.default_rng(0)
    if name == "breast cancer":
        X, y = load_breast_cancer(return_X_y=True)
        sizes, model, task = (200, 200, 150), "logistic_regression", "classification"
    elif name == "digits":
        X, y = load_digits(return_X_y=True)
        sizes, model, task = (400, 400, 400), "knn", "classification"
    elif name == "generated":
        X, y = make_classification(n_samples=1700, n_features=20, n_informative=8, random_state=1)
        sizes, model, task = (600, 600, 500), "logistic_regression", "classification"
    else:
        X, y = load_diabetes(return_X_y=True)
        sizes, model, task = (150, 150, 142), "ridge", "regression"
    order = rng.permutation(len(y))
    a, b, c = np.cumsum(sizes)
    return X, y, order[:a], order[a:b], order[b:c], model, task


def _split_groups(attacker: np.ndarray, k: int) -> np.ndarray:
    """Labels "A0".."A{k-1}" cutting the attacker's rows at random into k equal parts."""
    cut = np.random.default_rng(k).permutation(attacker.size) % k
    return np.array([f"A{i}" for i in cut], dtype=object)


def split_attack(name: str, budget: int, seed: int, splits=SPLITS, worthless=False) -> list[dict]:
    """Payouts for every k; ``worthless`` gives the attacker's rows random features (same
    spread, real labels): data that only hurts, cut into pieces that noise may favour."""
    X, y, honest, attacker, valid_rows, model_name, task = _split_case(name)
    model = make_model(model_name, task)
    metric = "accuracy" if task == "classification" else "r2"
    features = np.concatenate([X[honest], X[attacker]])
    if worthless:
        noise = np.random.default_rng(seed + 1).normal(size=(attacker.size, X.shape[1]))
        features[honest.size :] = X.mean(axis=0) + noise * X.std(axis=0)
    labels = y[np.concatenate([honest, attacker])]
    valid = Dataset(X[valid_rows], y[valid_rows])
    out = []
    for k in splits:
        groups = np.concatenate(
            [np.full(honest.size, "H", dtype=object), _split_groups(attacker, k)]
        )
        train = Dataset(features, labels, groups=groups)
        exact = ExactShapley(model=model, scorer=metric).fit(train, valid).result_
        started = time.perf_counter()
        basis = RowShapley(
            model=model, scorer=payout_metric(metric, task), random_state=seed, budget=budget
        ).fit(train, valid)
        seconds = time.perf_counter() - started
        result = basis.result_
        out.append(
            {
                "k": k,
                "provider": payouts(_contributions(exact)),
                "rows": payouts(_contributions(result)),
                # With one attacker account its total's error; the same rows earn the same
                # credit for every k, so that is the error of its total for every k.
                "attacker_se": float(result.stderr[list(result.names).index("A0")])
                / abs(result.total_gain)
                if k == 1
                else None,
                "fits": basis.n_utility_evaluations_,
                "seconds": seconds,
            }
        )
    return out


def _contributions(result) -> dict[str, tuple[float, float]]:
    return {
        str(n): (float(v), float(s))
        for n, v, s in zip(result.names, result.values, np.nan_to_num(result.stderr))
    }


WORTHLESS = "breast cancer, attacker's features random"


def split_section(budget: int, seed: int) -> str:
    rows = []
    cases = [(name, {}) for name in ("breast cancer", "digits", "generated", "diabetes")]
    cases.append((WORTHLESS, {"splits": (*SPLITS, 16), "worthless": True}))
    for name, options in cases:
        runs = split_attack(name.split(",")[0], budget, seed, **options)
        base = runs[0]
        for run in runs:
            cells = [name if run is base else "", str(run["k"])]
            for basis in ("provider", "rows"):
                a, h = take(run[basis], "A"), take(run[basis], "H")
                a0, h0 = take(base[basis], "A"), take(base[basis], "H")
                cells += [f"{a:,} ({_change(a, a0)})", f"{h:,} ({_change(h, h0)})"]
            se = "" if run["attacker_se"] is None else f"{100 * run['attacker_se']:.1f}"
            cells += [se, f"{run['fits']:,}", f"{run['seconds']:.0f}"]
            rows.append(cells)
    header = [
        "data, model",
        "k",
        "provider-level: attacker ¢",
        "honest ¢",
        "row basis: attacker ¢",
        "honest ¢",
        "attacker share s.e. (pts)",
        "fits",
        "s",
    ]
    pool = LIFT.lower * 100 * CENTS_PER_POINT * (1 - FEE_BPS / 10_000)
    return (
        "### Splitting an upload into k datasets\n\n"
        f"A pool of {pool:,.0f} cents is split between an honest provider and an attacker "
        "who offers the same rows as k datasets (changes against k = 1 in brackets).\n\n"
        + table(header, rows)
    )


def _change(now: int, before: int) -> str:
    return f"{(now - before) / before:+.1%}" if before else "—"


# --- part 2: copies ------------------------------------------------------------------------


def copy_variants(rng: np.random.Generator, honest_X: np.ndarray, spread: np.ndarray, own_X):
    """(label, copied features, whose rows) for each kind of copy."""
    n = honest_X.shape[0]
    noisy = honest_X + rng.normal(0, 0.05, honest_X.shape) * spread
    half = rng.choice(n, n // 2, replace=False)
    few = rng.choice(n, 40, replace=False)
    return [
        ("exact copy (screening holds it at upload)", honest_X, np.arange(n), None),
        ("copy with 5% noise", noisy, np.arange(n), None),
        ("half the rows, with noise", noisy[half], half, None),
        ("40 noisy copies among 160 own rows", noisy[few], few, own_X[:160]),
    ]


def copies_section(budget: int, seed: int) -> str:
    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(1).permutation(len(y))
    honest, own, valid_rows = order[:200], order[200:400], order[400:]
    model = make_model("logistic_regression", "classification")
    valid = Dataset(X[valid_rows], y[valid_rows])
    spread = X.std(axis=0)

    def basis(parts: dict[str, tuple[np.ndarray, np.ndarray]]):
        Xs = np.concatenate([p[0] for p in parts.values()])
        ys = np.concatenate([p[1] for p in parts.values()])
        groups = np.concatenate([np.full(len(p[1]), k, dtype=object) for k, p in parts.items()])
        est = RowShapley(model=model, scorer="neg_brier", random_state=seed, budget=budget)
        return _contributions(est.fit(Dataset(Xs, ys, groups=groups), valid).result_)

    base_parts = {"H": (X[honest], y[honest]), "A": (X[own], y[own])}
    before = payouts(basis(base_parts))
    rows = []
    rng = np.random.default_rng(2)
    for label, copied, which, own_part in copy_variants(rng, X[honest], spread, X[own]):
        if own_part is None:
            copy_X, copy_y = copied, y[honest][which]
        else:
            copy_X = np.concatenate([copied, own_part])
            copy_y = np.concatenate([y[honest][which], y[own][:160]])
        parts = {**base_parts, "A-copy": (copy_X, copy_y)}
        values = basis(parts)
        similarity = dataset_similarity(copy_X, X[honest], random_state=0)
        row_only = payouts(values)
        held = similarity >= SIMILARITY_HOLD
        screened = before if held else row_only
        beyond = max(0.0, (similarity - SIMILARITY_CHANCE) / (1 - SIMILARITY_CHANCE))
        penalised = screened
        if not held and beyond > 0:
            pairs = {"H": {"A-copy": beyond}, "A-copy": {"H": beyond}}
            penalised = payouts(values, similarity=pairs)
        cells = [label, f"{similarity:.2f}"]
        for cents in (row_only, screened, penalised):
            cells.append(
                f"{_change(take(cents, 'A'), take(before, 'A'))} / "
                f"{_change(take(cents, 'H'), take(before, 'H'))}"
            )
        rows.append(cells)
    header = [
        "the attacker's second dataset",
        "similarity to the honest one",
        "row basis alone: copier / honest",
        "+ screening's hold",
        "+ replication penalty",
    ]
    return (
        "### Copies of another provider's rows\n\n"
        f"Change of what the copier (its own 200 rows and the copy) and the honest provider "
        f"receive against the market without the copy (copier {take(before, 'A'):,} ¢, "
        f"honest {take(before, 'H'):,} ¢).\n\n" + table(header, rows)
    )


# --- part 3: estimators --------------------------------------------------------------------


def estimator_data():
    X, y = make_classification(n_samples=3000, n_features=20, n_informative=10, random_state=0)
    Xt, yt = X[:2000].copy(), y[:2000].copy()
    flipped = np.random.default_rng(0).choice(200, 80, replace=False) + 3 * 200
    yt[flipped] = 1 - yt[flipped]
    owners = np.repeat([f"P{i}" for i in range(10)], 200)
    return Dataset(Xt, yt, groups=owners), Dataset(X[2000:2500], y[2000:2500])


def _owner_totals(row_values: np.ndarray, train: Dataset) -> np.ndarray:
    return np.bincount(train.player_of_row, weights=row_values, minlength=train.n_players)


def batched_permutations(game: Game, seed: int, budget: int, first: int = 50, growth=1.5):
    """Row permutations walked row by row for the first ``first`` rows, then in batches
    growing by ``growth``, a batch's marginal split equally among its rows: identity-blind
    and efficient, but it pulls every late row's credit toward its batch's mean."""
    rng = np.random.default_rng(seed)
    run, n = RunUtility(game), game.n_players
    bounds = list(range(first + 1))
    while bounds[-1] < n:
        bounds.append(min(n, int(np.ceil(bounds[-1] * growth))))
    total, walks = np.zeros(n), 0
    while run.n_evaluations + len(bounds) <= budget or walks == 0:
        order, mask, previous = rng.permutation(n), 0, run(0)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            for row in order[lo:hi].tolist():
                mask |= 1 << row
            current = run(mask)
            total[order[lo:hi]] += (current - previous) / (hi - lo)
            previous = current
        walks += 1
    return total / walks, run.n_evaluations


def _estimate(job: tuple[str, int, int]) -> tuple[str, int, np.ndarray, float, int]:
    name, seed, budget = job
    train, valid = estimator_data()
    model = make_model("logistic_regression", "classification")
    metric = "accuracy" if name.endswith("accuracy") else "neg_brier"
    started = time.perf_counter()
    if name.startswith("provider-level"):
        result = ExactShapley(model=model, scorer=metric).fit(train, valid).result_
        totals, fits = result.values, 1024
    elif name.startswith("row basis"):
        est = RowShapley(model=model, scorer=metric, random_state=seed, budget=budget)
        totals = est.fit(train, valid).result_.values
        fits = est.n_utility_evaluations_
    else:
        game = ModelUtility(model, metric).bind(Dataset(train.X, train.y), valid)
        if name.startswith("truncated"):
            est = PermutationShapley(
                random_state=seed,
                truncation=0.01 if metric == "neg_brier" else 0.005,
                stop=MaxEvaluations(budget) | MaxSamples(budget),
            ).fit(game)
            rows, fits = est.result_.values, est.n_utility_evaluations_
        else:
            rows, fits = batched_permutations(game, seed, budget)
        totals = _owner_totals(rows, train)
    gain = float(np.sum(totals))
    return name, seed, totals / gain, time.perf_counter() - started, fits


ESTIMATORS = (
    "provider-level exact, accuracy",
    "row basis (RowShapley), Brier",
    "row basis (RowShapley), accuracy",
    "truncated row permutations (TMC), Brier",
    "row-by-row then batched permutations, Brier",
)

VERDICTS = {
    ESTIMATORS[0]: "rejected: splitting pays (part 1)",
    ESTIMATORS[1]: "**used**",
    ESTIMATORS[2]: "rejected: ~2× the error on hard tasks",
    ESTIMATORS[3]: "rejected: several times the error, truncation biases late rows",
    ESTIMATORS[4]: "rejected: batches pull late rows to their batch's mean",
}


def estimators_section(budget: int, seeds: int) -> str:
    jobs = [(ESTIMATORS[0], 0, budget)]
    jobs += [(name, seed, budget) for name in ESTIMATORS[1:] for seed in range(seeds)]
    with ProcessPoolExecutor(2, mp_context=get_context("fork")) as pool:
        done = list(pool.map(_estimate, jobs))
    by_name: dict[str, list] = {}
    for name, _, shares, seconds, fits in done:
        by_name.setdefault(name, []).append((shares, seconds, fits))
    reference = {
        "Brier": np.mean([s for s, _, _ in by_name[ESTIMATORS[1]]], axis=0),
        "accuracy": np.mean([s for s, _, _ in by_name[ESTIMATORS[2]]], axis=0),
    }
    rows = []
    for name in ESTIMATORS:
        runs = by_name[name]
        shares = np.array([s for s, _, _ in runs])
        error = shares.std(axis=0, ddof=1).max() * 100 if len(runs) > 1 else 0.0
        metric = "accuracy" if name.endswith("accuracy") else "Brier"
        bias = np.abs(shares.mean(axis=0) - reference[metric]).max() * 100
        rows.append(
            [
                name,
                f"{np.mean([f for _, _, f in runs]):,.0f}",
                f"{np.mean([t for _, t, _ in runs]):.0f}",
                f"{error:.2f}",
                "—" if name.startswith("row basis") else f"{bias:.1f}",
                f"{100 * shares.mean(axis=0)[3]:+.1f}",
                VERDICTS[name],
            ]
        )
    header = [
        "estimator",
        "fits",
        "s (one process)",
        "share error (pts, over seeds)",
        "bias (pts)",
        "flipped provider's share (%)",
        "verdict",
    ]
    return (
        "### Estimators of the owners' totals\n\n"
        f"Budget {budget:,} fits each (the row basis adds the bundle table's 1,024: 10× the "
        f"exact ten-provider game), {seeds} seeds.\n\n" + table(header, rows)
    )


# --- main ----------------------------------------------------------------------------------

PARTS: dict[str, Callable[[argparse.Namespace], str]] = {
    "split": lambda a: split_section(a.split_budget, a.seed),
    "copies": lambda a: copies_section(a.split_budget, a.seed),
    "estimators": lambda a: estimators_section(a.budget, a.seeds),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    parser.add_argument("--budget", type=int, default=9216, help="fits per estimator run")
    parser.add_argument("--split-budget", type=int, default=2048, help="fits per basis run")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    for part in args.parts:
        publish(parser, args, PARTS[part](args), report=REPORT, title=TITLE, key=part)


if __name__ == "__main__":
    main()
