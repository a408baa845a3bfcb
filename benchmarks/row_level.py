"""Row-level valuation: finding flipped labels in breast-cancer data with each engine method.

    python -m benchmarks row_level                  # updates docs/benchmarks/engine.md
    python -m benchmarks row_level --budget 1500 --seeds 0 1

Data: scikit-learn's breast cancer set; per seed a stratified split gives 120 training rows
(every row a player) and 200 validation rows; features standardised on the training rows;
10% of the training labels (12 rows) flipped. U(S) = validation accuracy of
``LogisticRegression()`` fitted on S. Every method gets the same budget of utility
evaluations (LOO needs only n + 1) and a cold cache, so its wall time includes its model fits.
Scores: AUROC of −value against the flipped rows, and F1 when the lowest 10% of values are
called flipped.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import train_test_split

from benchmarks import DOCS, machine, table, write_section
from valuation.core import (
    BanzhafMSR,
    BetaShapley,
    Dataset,
    LeastCore,
    LeaveOneOut,
    MaxEvaluations,
    MaxSamples,
    PermutationShapley,
    StratifiedShapley,
)

REPORT = DOCS / "engine.md"
TITLE = "Valuation engine benchmarks"
N_TRAIN, N_VALID, FLIP_SHARE = 120, 200, 0.10

Factory = Callable[[int, int], object]


def _permutation(seed: int, budget: int, **options) -> PermutationShapley:
    # The sample cap ends truncated runs whose walks stop finding new coalitions.
    stop = MaxEvaluations(budget) | MaxSamples(budget)
    return PermutationShapley(random_state=seed, stop=stop, **options)


METHODS: list[tuple[str, Factory]] = [
    ("leave-one-out", lambda seed, budget: LeaveOneOut()),
    ("permutation (Monte Carlo)", lambda seed, budget: _permutation(seed, budget)),
    (
        "permutation, truncated (τ = 0.01)",
        lambda seed, budget: _permutation(seed, budget, truncation=0.01),
    ),
    (
        "stratified Shapley",
        lambda seed, budget: StratifiedShapley(random_state=seed, budget=budget),
    ),
    (
        "Beta(16,1) Shapley",
        lambda seed, budget: BetaShapley(alpha=16, beta=1, random_state=seed, budget=budget),
    ),
    (
        "Banzhaf MSR",
        lambda seed, budget: BanzhafMSR(
            random_state=seed, stop=MaxEvaluations(budget) | MaxSamples(budget)
        ),
    ),
    (
        "least core (sampled)",
        lambda seed, budget: LeastCore(n_samples=budget - N_TRAIN - 2, random_state=seed),
    ),
]


def noisy_rows(seed: int) -> tuple[Dataset, Dataset, np.ndarray]:
    """Training and validation sets with flipped training labels, and which rows flipped."""
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X, y, train_size=N_TRAIN, test_size=N_VALID, stratify=y, random_state=seed
    )
    mean, scale = X_train.mean(axis=0), X_train.std(axis=0)
    flipped = np.zeros(N_TRAIN, dtype=bool)
    flipped[np.random.default_rng(seed).choice(N_TRAIN, int(FLIP_SHARE * N_TRAIN), False)] = True
    y_train = np.where(flipped, 1 - y_train, y_train)
    return (
        Dataset((X_train - mean) / scale, y_train),
        Dataset((X_valid - mean) / scale, y_valid),
        flipped,
    )


def detection(values: np.ndarray, flipped: np.ndarray) -> tuple[float, float]:
    """AUROC of −value for the flipped rows; F1 of calling the lowest 10% flipped."""
    lowest = np.zeros_like(flipped)
    lowest[np.argsort(values, kind="stable")[: int(FLIP_SHARE * len(values))]] = True
    return roc_auc_score(flipped, -values), f1_score(flipped, lowest)


def run(budget: int, seeds: list[int]) -> str:
    rows = []
    for label, factory in METHODS:
        aurocs, f1s, seconds, evaluations = [], [], [], []
        for seed in seeds:
            train, valid, flipped = noisy_rows(seed)
            est = factory(seed, budget)
            est.set_params(model=LogisticRegression(), scorer="accuracy")
            started = time.perf_counter()
            est.fit(train, valid)
            seconds.append(time.perf_counter() - started)
            evaluations.append(est.n_utility_evaluations_)
            auroc, f1 = detection(est.result_.values, flipped)
            aurocs.append(auroc)
            f1s.append(f1)
        rows.append(
            [
                label,
                f"{np.mean(aurocs):.3f} ± {np.std(aurocs):.3f}",
                f"{np.mean(f1s):.3f} ± {np.std(f1s):.3f}",
                f"{np.mean(evaluations):.0f}",
                f"{np.mean(seconds):.1f}",
            ]
        )
        print(rows[-1], flush=True)
    header = ["method", "AUROC", "F1 of lowest 10%", "utility evaluations", "seconds"]
    return (
        "## Row level: noisy-label detection\n\n"
        f"Breast cancer, {N_TRAIN} training rows (each a player) with {FLIP_SHARE:.0%} of "
        f"labels flipped, {N_VALID} validation rows, `LogisticRegression()`, accuracy; a "
        f"budget of {budget} utility evaluations per method; mean ± sd over seeds {seeds} "
        "(split, flips and the method's seed). Wall time includes the model fits (cold "
        "cache, one process, BLAS single-threaded).\n\n" + table(header, rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    body = run(args.budget, args.seeds)
    footer = (
        f"\n\nMeasured on {machine()}. Command: `python -m benchmarks row_level"
        + (f" --budget {args.budget}" if args.budget != 2000 else "")
        + (f" --seeds {' '.join(map(str, args.seeds))}" if args.seeds != [0, 1, 2] else "")
        + "`."
    )
    print(body + footer, flush=True)
    if not args.no_write:
        write_section(REPORT, TITLE, "row-level", body + footer)


if __name__ == "__main__":
    main()
