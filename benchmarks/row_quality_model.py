"""Noisy-label detection by the model-specific methods: LAVA, Influence and TS-DShapley.

    python -m benchmarks.row_quality_model              # updates docs/benchmarks/model_methods.md
    python -m benchmarks.row_quality_model --no-write   # print only
    python -m benchmarks.row_quality_model --seeds 0 1 2 --ts-seeds 0

The data and the scores are those of the KNNShapley/DataOOB quality table
(:func:`benchmarks.knn_shapley.detection_data` and ``detection_scores``: breast cancer,
digits and a generated 3-class set, a stratified 70/30 split standardised on the training
part, 10% of the training labels flipped to another class), so the two tables read side by
side. TS-DShapley trains thousands of proxy models per run, so it runs on fewer seeds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks import DOCS, machine, table, write_section
from benchmarks.knn_shapley import detection_data, detection_scores
from valuation.core.dataset import Dataset
from valuation.core.methods.influence import Influence
from valuation.core.methods.lava import LAVA
from valuation.core.methods.ts_dshapley import TransferredShapley

REPORT = DOCS / "model_methods.md"
DATASETS = ("breast cancer", "digits", "generated")

Method = Callable[[Dataset, Dataset, int], np.ndarray]

METHODS: dict[str, Method] = {
    "LAVA (ε = 0.1, cost / d)": lambda train, valid, seed: (
        LAVA(random_state=seed).fit(train, valid).result_.values
    ),
    "Influence (logistic, α = 1)": lambda train, valid, seed: (
        Influence(model="logistic", alpha=1.0).fit(train, valid).result_.values
    ),
    "TS-DShapley (chains of 50, r = 2, T = 5, τ = 0.01)": lambda train, valid, seed: (
        TransferredShapley(
            chain_size=50, coverage=2, permutations=5, truncation=0.01, random_state=seed
        )
        .fit(train, valid)
        .result_.values
    ),
}


def measure(seeds: list[int], ts_seeds: list[int]) -> list[list[str]]:
    """One table row per (dataset, method): AUROC and F1 mean ± sd over seeds, seconds."""
    rows = []
    for name in DATASETS:
        for label, run in METHODS.items():
            chosen = ts_seeds if label.startswith("TS-DShapley") else seeds
            aurocs, f1s, seconds = [], [], []
            for seed in chosen:
                train, valid, flipped = detection_data(name, seed)
                start = time.perf_counter()
                values = run(train, valid, seed)
                seconds.append(time.perf_counter() - start)
                auroc, f1 = detection_scores(values, flipped)
                aurocs.append(auroc)
                f1s.append(f1)
            rows.append(
                [
                    f"{name} ({train.n_rows} / {valid.n_rows})",
                    label,
                    f"{np.mean(aurocs):.3f} ± {np.std(aurocs):.3f}",
                    f"{np.mean(f1s):.3f} ± {np.std(f1s):.3f}",
                    f"{np.mean(seconds):.2f}",
                    ", ".join(map(str, chosen)),
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--ts-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    # On the shared 2-core machine, multi-threaded BLAS spins against the other jobs: a
    # 1257×540 matrix-vector pair took 33 ms with 2 threads and 1.9 ms with 1.
    with threadpool_limits(args.threads):
        rows = measure(args.seeds, args.ts_seeds)
    header = ["dataset (train / valid)", "method", "AUROC", "F1 of lowest 10%", "seconds", "seeds"]
    command = "python -m benchmarks.row_quality_model"
    if args.seeds != [0, 1, 2] or args.ts_seeds != [0]:
        command += f" --seeds {' '.join(map(str, args.seeds))}"
        command += f" --ts-seeds {' '.join(map(str, args.ts_seeds))}"
    if args.threads != 1:
        command += f" --threads {args.threads}"
    body = (
        "## Noisy-label detection: LAVA, Influence, TS-DShapley\n\n"
        "Same data and scores as the KNNShapley/DataOOB table (`benchmarks.knn_shapley`): "
        "10% of the training labels flipped to another class, features standardised on the "
        "training part of a stratified 70/30 split; AUROC of −value against the flipped "
        "rows, and F1 when the lowest 10% of values are called flipped; mean ± sd over the "
        "seeds (split and flips). Seconds are wall time per run (mean) with BLAS on "
        f"{args.threads} thread(s), on a shared machine. "
        "LAVA: label-aware OT to the validation part, ground cost divided by the dimension. "
        "Influence: first-order change of the validation log loss when a row is removed, "
        "multinomial logistic regression with L2 penalty 1. TS-DShapley: logistic-regression "
        "proxy, every row in 2 stratified chains of 50, 5 truncated permutations per "
        "chain, accuracy on the validation part.\n\n"
        + table(header, rows)
        + f"\n\nMeasured on {machine()}. Command: `{command}`."
    )
    print(body)
    if not args.no_write:
        write_section(REPORT, "Benchmarks: model-specific valuation methods", "model-quality", body)


if __name__ == "__main__":
    main()
