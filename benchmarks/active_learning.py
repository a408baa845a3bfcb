"""Active learning: labels needed to reach a target accuracy, value-based vs uncertainty vs random.

    python -m benchmarks active_learning            # updates docs/benchmarks/datacentric.md
    python -m benchmarks active_learning --seeds 0 1 2 3 4 5 6 7

Data, per seed: a stratified split into a labeled start (20 rows), an unlabeled pool, a
validation set (200 labeled rows: the consumer's task, which value-based selection needs
for KNN-Shapley and every strategy may use) and a test set. Each round, a strategy of
:class:`~valuation.core.acquisition.PoolRanker` picks the next batch of 20 pool rows, their
labels are revealed, ``LogisticRegression`` is refitted on all labeled rows and scored on
the test rows, until ``--max-labels``. Target: 95% of the test accuracy of the model fitted
on the labeled start plus the whole pool. "Labels needed" counts the labeled rows when the
curve first reaches the target (a run that never does counts as ``max-labels`` and is
marked). Strategies: value (KNN-Shapley → random-forest regressor, mixed half and half with
uncertainty by ranks), value only (mix 1), uncertainty (least confidence), random.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks import DOCS, publish, table
from benchmarks.plots import line_panels
from valuation.core.acquisition import PoolRanker
from valuation.core.dataset import Dataset

REPORT = DOCS / "datacentric.md"
TITLE = "Data-centric uses of valuation: benchmarks"
START, BATCH, N_VALID, TARGET_SHARE = 20, 20, 200, 0.95

#: label → PoolRanker parameters
STRATEGIES: dict[str, dict] = {
    "value + uncertainty": {"strategy": "value", "mix": 0.5},
    "value only": {"strategy": "value", "mix": 1.0},
    "uncertainty": {"strategy": "uncertainty"},
    "random": {"strategy": "random"},
}


def _model():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _generated() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=2000, n_features=20, n_informative=8, flip_y=0.03, random_state=0
    )


DATASETS = {
    "digits (10 classes)": lambda: load_digits(return_X_y=True),
    "generated (2 classes, 20 features)": _generated,
}


def split(name: str, seed: int):
    X, y = DATASETS[name]()
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    X_rest, X_valid, y_rest, y_valid = train_test_split(
        X_rest, y_rest, test_size=N_VALID, stratify=y_rest, random_state=seed
    )
    X_pool, X_start, y_pool, y_start = train_test_split(
        X_rest, y_rest, test_size=START, stratify=y_rest, random_state=seed
    )
    return (X_start, y_start), (X_pool, y_pool), Dataset(X_valid, y_valid), (X_test, y_test)


def curve(name: str, seed: int, params: dict, max_labels: int) -> list[tuple[int, float]]:
    """(labeled rows, test accuracy) after every round of one strategy."""
    (X_lab, y_lab), (X_pool, y_pool), valid, (X_test, y_test) = split(name, seed)
    pool = np.arange(len(y_pool))
    points = []
    round_index = 0
    while True:
        model = _model().fit(X_lab, y_lab)
        points.append((len(y_lab), float(model.score(X_test, y_test))))
        if len(y_lab) >= max_labels or pool.size == 0:
            return points
        ranker = PoolRanker(**params, model=_model(), random_state=seed * 1000 + round_index)
        ranker.fit(Dataset(X_lab, y_lab), X_pool[pool], valid)
        chosen = pool[ranker.next_batch(BATCH)]
        X_lab = np.concatenate([X_lab, X_pool[chosen]])
        y_lab = np.concatenate([y_lab, y_pool[chosen]])
        pool = np.setdiff1d(pool, chosen)
        round_index += 1


def full_accuracy(name: str, seed: int) -> float:
    (X_lab, y_lab), (X_pool, y_pool), _, (X_test, y_test) = split(name, seed)
    model = _model().fit(np.concatenate([X_lab, X_pool]), np.concatenate([y_lab, y_pool]))
    return float(model.score(X_test, y_test))


def labels_needed(points: list[tuple[int, float]], target: float) -> int | None:
    for labels, accuracy in points:
        if accuracy >= target:
            return labels
    return None


def run(seeds: list[int], max_labels: int) -> str:
    rows, curve_rows = [], []
    panels: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
    checkpoints = sorted({c for c in (START, 60, 100, 160, 240) if c <= max_labels} | {max_labels})
    for name in DATASETS:
        needed: dict[str, list[int]] = {label: [] for label in STRATEGIES}
        missed = dict.fromkeys(STRATEGIES, 0)
        accuracy_at: dict[str, dict[int, list[float]]] = {label: {} for label in STRATEGIES}
        seconds = dict.fromkeys(STRATEGIES, 0.0)
        targets = []
        for seed in seeds:
            target = TARGET_SHARE * full_accuracy(name, seed)
            targets.append(target)
            for label, params in STRATEGIES.items():
                started = time.perf_counter()
                points = curve(name, seed, params, max_labels)
                seconds[label] += time.perf_counter() - started
                count = labels_needed(points, target)
                if count is None:
                    missed[label] += 1
                    count = max_labels
                needed[label].append(count)
                for labels, accuracy in points:
                    accuracy_at[label].setdefault(labels, []).append(accuracy)
        panels[name] = {
            label: (sorted(at), [np.mean(at[c]) for c in sorted(at)])
            for label, at in accuracy_at.items()
        }
        random_mean = np.mean(needed["random"])
        uncertainty_mean = np.mean(needed["uncertainty"])
        for label in STRATEGIES:
            mean = np.mean(needed[label])
            rows.append(
                [
                    name,
                    label,
                    f"{mean:.0f} ± {np.std(needed[label]):.0f}"
                    + (f" ({missed[label]} missed)" if missed[label] else ""),
                    f"{1 - mean / random_mean:+.0%}",
                    f"{1 - mean / uncertainty_mean:+.0%}",
                    f"{seconds[label] / len(seeds):.1f}",
                ]
            )
            curve_rows.append(
                [
                    name,
                    label,
                    *[
                        f"{np.mean(accuracy_at[label][c]):.3f}" if c in accuracy_at[label] else ""
                        for c in checkpoints
                    ],
                ]
            )
        print(f"{name}: target {np.mean(targets):.3f}", *rows[-len(STRATEGIES) :], sep="\n")
    header = [
        "dataset",
        "strategy",
        "labels needed",
        "saving vs random",
        "saving vs uncertainty",
        "seconds per run",
    ]
    curve_header = ["dataset", "strategy", *[f"{c} labels" for c in checkpoints]]
    return (
        "## Active learning: labels needed to reach a target accuracy\n\n"
        f"Start with {START} labeled rows, add batches of {BATCH} chosen by each strategy up "
        f"to {max_labels} labels; target = {TARGET_SHARE:.0%} of the test accuracy with the "
        "whole pool labeled; `StandardScaler + LogisticRegression`; value-based selection "
        f"uses a {N_VALID}-row labeled validation set. Mean ± sd over seeds {seeds}; saving = "
        "1 − labels needed / labels needed by the baseline (positive: fewer labels). Published "
        "claims put the saving at 10–30% (unverified, algorithms.md §7); these are our "
        "measurements.\n\n"
        + line_panels(
            "active_learning",
            panels,
            xlabel="labeled rows",
            ylabel="test accuracy",
            alt="Learning curves: mean test accuracy against labeled rows for each strategy",
        )
        + "\n\n"
        + table(header, rows)
        + "\n\nMean test accuracy along the curve:"
        "\n\n" + table(curve_header, curve_rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--max-labels", type=int, default=240)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    body = run(args.seeds, args.max_labels)
    publish(parser, args, body, report=REPORT, title=TITLE, key="active-learning")


if __name__ == "__main__":
    main()
