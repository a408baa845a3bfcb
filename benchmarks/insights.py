"""What a task's insights cost a worker after its quote, by bundle size.

Data: ``make_classification`` (2 classes, 10 features, 5 informative, class_sep 1.0): the
buyer's own rows and three sources of ``n`` rows each; source ``c`` labelled 60% of its
class-1 rows as class 0 (a one-sided labelling error, which biases a linear model; symmetric
flips mostly do not); 500 validation rows; the buyer's model is ``LogisticRegression``. For
each size, :func:`valuation.core.insights.buyer_insights` runs once (consensus of three detectors,
2 refits per source plus the bundle's, explanations, sensitivity, KNN-Shapley of every row)
and a row offer is priced and chosen from its values (``row_prices`` + ``buy_top_rows``).
The table says how long each took and what the insights found: which sources they suggest
dropping (only when the 95% paired-bootstrap interval of the measured gain is above 0) and
the measured accuracy change from dropping the suspect rows, with its interval.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from benchmarks import DOCS, publish, table
from valuation.core.acquisition import buy_top_rows, row_prices
from valuation.core.dataset import Dataset
from valuation.core.insights import buyer_insights

REPORT = DOCS / "datacentric.md"
TITLE = "Data-centric uses of valuation: benchmarks"
SIZES = (100, 1000, 5000)
VALID_ROWS = 500
FLIP = 0.6


def bundle(n: int, seed: int) -> tuple[Dataset, Dataset]:
    """Own rows (n/2) and sources a, b, c of n rows each (60% of c's class-1 rows say 0)."""
    own = max(n // 2, 20)
    total = own + 3 * n + VALID_ROWS
    X, y = make_classification(
        n_samples=total, n_features=10, n_informative=5, class_sep=1.0, random_state=seed
    )
    rng = np.random.default_rng(seed)
    y = y.copy()
    noisy = slice(own + 2 * n, own + 3 * n)
    flip = (rng.random(n) < FLIP) & (y[noisy] == 1)
    y[noisy] = np.where(flip, 0, y[noisy])
    groups = np.array(["own"] * own + ["a"] * n + ["b"] * n + ["c"] * n, dtype=object)
    train = Dataset(X[: own + 3 * n], y[: own + 3 * n], groups=groups)
    valid = Dataset(X[own + 3 * n :], y[own + 3 * n :])
    return train, valid


def run(seed: int) -> str:
    rows = []
    for n in SIZES:
        train, valid = bundle(n, seed)
        started = time.perf_counter()
        found = buyer_insights(
            train,
            valid,
            model=LogisticRegression(max_iter=1000),
            own=["own"],
            looked_at=["a", "b"],
            random_state=seed,
        )
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        sold = found.source != "own"
        prices = row_prices(found.values[sold], rate=100 * 500)
        chosen = buy_top_rows(found.values[sold], prices, 20_000)
        offer_ms = (time.perf_counter() - started) * 1000
        suggested = [item.source for item in found.report.prune.sources if item.suggested]
        change = found.report.prune.suspects
        rows.append(
            [
                f"{train.n_rows:,}",
                f"{seconds:.1f}",
                ", ".join(suggested) or "none",
                f"{change.change * 100:+.1f} ({change.change_lower * 100:+.1f} to "
                f"{change.change_upper * 100:+.1f})",
                f"{chosen.size:,} rows, {offer_ms:.1f} ms",
            ]
        )
        print(rows[-1], flush=True)
    header = [
        "training rows (own + 3 sources)",
        "insights, seconds",
        "sources suggested to drop (confident gain)",
        "accuracy change from dropping the suspects, points (95% interval)",
        "row offer at $200 (5 $/point)",
    ]
    return (
        "## Insights after a quote: cost by bundle size\n\n"
        f"{__doc__.split(chr(10) + chr(10), 1)[1].strip()} Seed {seed}; the noisy source is "
        "`c`.\n\n" + table(header, rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    publish(parser, args, run(args.seed), report=REPORT, title=TITLE, key="insights")


if __name__ == "__main__":
    main()
