"""Data-OOB speed: DataFair's DataOOB against a plain scikit-learn bagging loop on the same data.

    python -m benchmarks.data_oob        # rewrites the oob-speed block of docs/benchmarks/knn.md
    python -m benchmarks.data_oob --rows 20000 --trees 100 --no-write

The scikit-learn side is what one writes without DataOOB: ``BaggingClassifier`` of the same
trees (``max_features="sqrt"``, bootstrap of N rows), then a loop over ``estimators_`` and
``estimators_samples_`` predicting each tree's out-of-bag rows. ``oob_score=True`` alone is
timed too: it gives the ensemble's OOB accuracy, not per-row values.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
from scipy.stats import spearmanr
from sklearn.datasets import make_classification
from sklearn.ensemble import BaggingClassifier
from sklearn.tree import DecisionTreeClassifier

from benchmarks.knn_shapley import machine, table, write_section
from valuation.core.dataset import Dataset
from valuation.core.methods.oob import DataOOB
from valuation.core.result import ValuationResult


def bagging(n_trees: int, n_jobs: int, oob_score: bool = False) -> BaggingClassifier:
    return BaggingClassifier(
        DecisionTreeClassifier(max_features="sqrt"),
        n_estimators=n_trees,
        max_samples=1.0,
        bootstrap=True,
        oob_score=oob_score,
        n_jobs=n_jobs,
        random_state=0,
    )


def sklearn_loop(X: np.ndarray, y: np.ndarray, n_trees: int, n_jobs: int) -> np.ndarray:
    """Per-row out-of-bag accuracy from a fitted BaggingClassifier (NaN if never out of bag)."""
    model = bagging(n_trees, n_jobs).fit(X, y)
    encoded = np.searchsorted(model.classes_, y)  # the trees were fitted on encoded labels
    hits, counts = np.zeros(len(y)), np.zeros(len(y))
    for tree, drawn in zip(model.estimators_, model.estimators_samples_):
        out = np.ones(len(y), dtype=bool)
        out[drawn] = False
        hits[out] += tree.predict(X[out]) == encoded[out]
        counts[out] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / counts


def _chunk(args: tuple[Dataset, int, int, int]) -> dict:
    train, n_trees, start, stop = args
    method = DataOOB(n_estimators=n_trees, random_state=0)
    return method.fit_chunk(train, start=start, stop=stop).to_dict()


def timed(run) -> tuple[float, float, object]:
    """Wall and CPU seconds of ``run()`` (CPU of this process: meaningful without workers)."""
    start, cpu = time.perf_counter(), time.process_time()
    out = run()
    return time.perf_counter() - start, time.process_time() - cpu, out


def run(n_rows: int, n_trees: int) -> str:
    X, y = make_classification(
        n_samples=n_rows, n_features=32, n_informative=16, flip_y=0.1, random_state=0
    )
    train = Dataset(X, y)
    ours_1, ours_cpu, ours = timed(lambda: DataOOB(n_estimators=n_trees, random_state=0).fit(train))
    with ProcessPoolExecutor(2, mp_context=get_context("fork")) as pool:
        list(pool.map(abs, [0, 1]))  # workers up before the clock, as Celery's are
        halves = [(train, n_trees, 0, n_trees // 2), (train, n_trees, n_trees // 2, n_trees)]
        ours_2, _, partials = timed(lambda: list(pool.map(_chunk, halves)))
    merged = DataOOB(n_estimators=n_trees, random_state=0).reduce(
        sum(ValuationResult.from_dict(p) for p in partials)
    )
    assert np.abs(merged.values - ours.result_.values).max() < 1e-12
    loop_1, loop_cpu, loop_values = timed(lambda: sklearn_loop(X, y, n_trees, 1))
    loop_2, _, _ = timed(lambda: sklearn_loop(X, y, n_trees, 2))
    score_1, score_cpu, _ = timed(lambda: bagging(n_trees, 1, oob_score=True).fit(X, y))
    agree = spearmanr(ours.result_.values, loop_values, nan_policy="omit").statistic
    rows = [
        ["DataFair DataOOB, 1 process", f"{ours_1:.2f}", f"{ours_cpu:.2f}", "per-row values"],
        ["DataFair DataOOB, 2 chunk workers", f"{ours_2:.2f}", "", "per-row values"],
        ["BaggingClassifier + OOB loop, n_jobs=1", f"{loop_1:.2f}", f"{loop_cpu:.2f}"]
        + ["per-row values"],
        ["BaggingClassifier + OOB loop, n_jobs=2", f"{loop_2:.2f}", "", "per-row values"],
        ["BaggingClassifier(oob_score=True), n_jobs=1", f"{score_1:.2f}", f"{score_cpu:.2f}"]
        + ["one OOB accuracy"],
    ]
    return (
        f"## Data-OOB speed against scikit-learn bagging\n\n{n_rows:,} rows, 32 features "
        f'(make_classification, flip_y=0.1), {n_trees} trees (`max_features="sqrt"`, '
        "bootstrap of N rows) on both sides. DataOOB draws its own seeded bags, so the bags "
        "differ from scikit-learn's; the Spearman correlation of the two per-row value "
        f"vectors is {agree:.3f}. DataOOB's 2-worker time is two `fit_chunk` halves of the "
        "trees in a warm process pool.\n\n"
        + table(["implementation", "seconds", "CPU seconds", "gives"], rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    body = run(args.rows, args.trees)
    body += f"\n\nMeasured on {machine()}. Command: `python -m benchmarks.data_oob"
    if (args.rows, args.trees) != (10_000, 200):
        body += f" --rows {args.rows} --trees {args.trees}"
    body += "`."
    print(body)
    if not args.no_write:
        write_section("oob-speed", body)


if __name__ == "__main__":
    main()
