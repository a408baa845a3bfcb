"""Pruning: test accuracy after removing the lowest-valued rows versus removing random rows.

    python -m benchmarks pruning                 # updates docs/benchmarks/datacentric.md
    python -m benchmarks pruning --seeds 0 1 2 3 4

Data: three datasets, each split per seed (stratified) into training, validation and test
rows, features standardised on the training rows, and 10% of training labels changed to
another class (``y → (y + 1) mod C``, Shapley-Study's label app): scikit-learn's breast
cancer (200 / 150 / rest) and digits (600 / 300 / rest), and ``make_classification`` (600
rows, 10 features, 3 classes, class_sep 1.5; 200 / 150 / 250). Values: :class:`Consensus`
of KNN-Shapley, Data-OOB and LAVA on the validation rows, and each of the three alone. For
each share (5/10/20%) the lowest-valued training rows are dropped and ``LogisticRegression`` is
refitted and scored on the test rows; random removal is averaged over 10 draws.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from benchmarks import DOCS, publish, table
from benchmarks.plots import line_panels
from valuation.core.dataset import Dataset
from valuation.core.methods.consensus import Consensus

REPORT = DOCS / "datacentric.md"
TITLE = "Data-centric uses of valuation: benchmarks"
NOISE, SHARES, RANDOM_DRAWS = 0.10, (0.05, 0.10, 0.20), 10


def _generated() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=600, n_features=10, n_informative=6, n_classes=3, class_sep=1.5, random_state=0
    )


#: name → (loader, training rows, validation rows)
DATASETS: dict[str, tuple[Callable[[], tuple[np.ndarray, np.ndarray]], int, int]] = {
    "breast cancer": (lambda: load_breast_cancer(return_X_y=True), 200, 150),
    "digits": (lambda: load_digits(return_X_y=True), 600, 300),
    "generated (3 classes)": (_generated, 200, 150),
}


def noisy_split(name: str, seed: int) -> tuple[Dataset, Dataset, Dataset, np.ndarray]:
    """Training (10% labels changed), validation and test sets; which training rows changed."""
    load, n_train, n_valid = DATASETS[name]
    X, y = load()
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, train_size=n_train, stratify=y, random_state=seed
    )
    X_valid, X_test, y_valid, y_test = train_test_split(
        X_rest, y_rest, train_size=n_valid, stratify=y_rest, random_state=seed
    )
    mean, scale = X_train.mean(axis=0), X_train.std(axis=0)
    scale[scale == 0] = 1.0
    classes = np.unique(y)
    noisy = np.zeros(n_train, dtype=bool)
    noisy[np.random.default_rng(seed).choice(n_train, int(NOISE * n_train), replace=False)] = True
    shifted = classes[(np.searchsorted(classes, y_train) + 1) % classes.size]
    y_train = np.where(noisy, shifted, y_train)
    return (
        Dataset((X_train - mean) / scale, y_train),
        Dataset((X_valid - mean) / scale, y_valid),
        Dataset((X_test - mean) / scale, y_test),
        noisy,
    )


def test_accuracy(train: Dataset, test: Dataset, drop: np.ndarray) -> float:
    keep = np.setdiff1d(np.arange(train.n_rows), drop)
    model = LogisticRegression(max_iter=2000).fit(train.X[keep], train.y[keep])
    return float(model.score(test.X, test.y))


def run(seeds: list[int]) -> str:
    rows = []
    panels: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    for name in DATASETS:
        # results[label][share] = accuracies over seeds
        results: dict[str, dict[float, list[float]]] = {}
        full, noisy_caught, seconds = [], [], []
        for seed in seeds:
            train, valid, test, noisy = noisy_split(name, seed)
            started = time.perf_counter()
            consensus = Consensus(random_state=seed).fit(train, valid)
            seconds.append(time.perf_counter() - started)
            full.append(test_accuracy(train, test, np.array([], dtype=int)))
            rankings = {"consensus": consensus.result_.values, **consensus.scores_}
            rng = np.random.default_rng(seed)
            for share in SHARES:
                n_drop = int(round(share * train.n_rows))
                for label, values in rankings.items():
                    drop = np.argsort(values, kind="stable")[:n_drop]
                    results.setdefault(label, {}).setdefault(share, []).append(
                        test_accuracy(train, test, drop)
                    )
                    if label == "consensus" and share == NOISE:
                        noisy_caught.append(noisy[drop].mean())
                draws = [
                    test_accuracy(train, test, rng.choice(train.n_rows, n_drop, replace=False))
                    for _ in range(RANDOM_DRAWS)
                ]
                results.setdefault("random", {}).setdefault(share, []).append(np.mean(draws))
        panels[name] = {
            label: ([0.0, *SHARES], [np.mean(full), *[np.mean(by_share[s]) for s in SHARES]])
            for label, by_share in results.items()
        }
        for label, by_share in results.items():
            rows.append(
                [
                    name,
                    label,
                    f"{np.mean(full):.3f}",
                    *[f"{np.mean(by_share[s]):.3f}" for s in SHARES],
                ]
            )
        rows.append(
            [
                name,
                f"(consensus: {np.mean(noisy_caught):.0%} of the lowest 10% were noisy; "
                f"{np.mean(seconds):.1f} s per valuation)",
                "",
                "",
                "",
                "",
            ]
        )
        print(*rows[-len(results) - 1 :], sep="\n", flush=True)
    header = ["dataset", "removal by", "none", *[f"drop {s:.0%}" for s in SHARES]]
    return (
        "## Pruning: remove the lowest-valued rows\n\n"
        "Test accuracy of `LogisticRegression` refitted after dropping the lowest-valued "
        f"5/10/20% of training rows, {NOISE:.0%} of whose labels were changed to another class; "
        f"random removal averaged over {RANDOM_DRAWS} draws; mean over seeds {seeds} (split, "
        "noise, detectors' seeds). Data: breast cancer 200 train / 150 validation / 219 test; "
        "digits 600 / 300 / 897; make_classification (3 classes, 10 features, class_sep 1.5) "
        "200 / 150 / 250."
        "\n\n"
        + line_panels(
            "pruning",
            panels,
            xlabel="training rows dropped (%)",
            ylabel="test accuracy",
            alt="Test accuracy against the share of lowest-valued rows dropped, per method, "
            "on three datasets with 10% label noise",
            percent_x=True,
        )
        + "\n\n"
        + table(header, rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    publish(parser, args, run(args.seeds), report=REPORT, title=TITLE, key="pruning")


if __name__ == "__main__":
    main()
