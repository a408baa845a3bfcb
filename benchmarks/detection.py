"""Detection at 10% poisoning: label flips, backdoor triggers and replicated datasets.

    python -m benchmarks detection              # updates docs/benchmarks/datacentric.md
    python -m benchmarks detection --seeds 0 1 2 3 4

* **Label flips**: the pruning benchmark's splits (breast cancer, digits, generated; 10% of
  training labels changed to another class); each row scored as :class:`PoisonScreen`
  does (consensus of all three detectors, of KNN-Shapley and LAVA, and each detector alone)
  against the clean validation rows.
* **Backdoor triggers**: 10% of the training rows get a trigger — features 0–2 set to 3.0
  (three standard deviations after standardisation) — and the target label (the first
  class); the validation rows are clean.
* **Replicated datasets**: 20 provider datasets of 100 rows (``make_classification``, 10
  features, one distribution); 2 of them (10%) are replicas of another provider's data — a
  full copy with 1% noise and shuffled rows, and a half copy (50 copied rows with 1% noise,
  50 new). Each dataset is scored by its largest :func:`dataset_similarity` to any other;
  positives are the datasets in a replicated pair (replica and source: the similarity is
  symmetric, so it cannot tell which came first).

Scores: AUROC of the suspicion score against the planted rows or datasets, and recall when
the top 10% (rows) or the datasets with similarity ≥ 0.3 are flagged.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import roc_auc_score

from benchmarks import DOCS, publish, table
from benchmarks.plots import bar_panels
from benchmarks.pruning import DATASETS, noisy_split
from valuation.core.dataset import Dataset
from valuation.core.detection import similarity_matrix
from valuation.core.methods.consensus import Consensus

REPORT = DOCS / "datacentric.md"
TITLE = "Data-centric uses of valuation: benchmarks"
SHARE, TRIGGER_VALUE, TRIGGER_FEATURES = 0.10, 3.0, [0, 1, 2]
N_PROVIDERS, PROVIDER_ROWS, NOISE, SIMILAR = 20, 100, 0.01, 0.3

SCREENS = {
    "consensus (all three)": None,
    "knn-shapley + lava": ("knn-shapley", "lava"),
    "knn-shapley": ("knn-shapley",),
    "data-oob": ("data-oob",),
    "lava": ("lava",),
}


def with_trigger(train: Dataset, seed: int) -> tuple[Dataset, np.ndarray]:
    """``train`` with a trigger pattern and the target label on 10% of its rows."""
    rng = np.random.default_rng(seed + 10_000)
    planted = np.zeros(train.n_rows, dtype=bool)
    planted[rng.choice(train.n_rows, int(SHARE * train.n_rows), replace=False)] = True
    X, y = train.X.copy(), train.y.copy()
    X[np.ix_(planted, TRIGGER_FEATURES)] = TRIGGER_VALUE
    y[planted] = np.unique(train.y)[0]
    return Dataset(X, y), planted


def row_scores(upload: Dataset, valid: Dataset, planted: np.ndarray, seed: int) -> dict:
    """AUROC and recall of the top 10% for every screen.

    The three detectors run once; a screen's score is the mean of its detectors' normalised
    ranks, exactly what ``PoisonScreen(methods=...)`` computes (ranks are per detector).
    """
    started = time.perf_counter()
    consensus = Consensus(random_state=seed).fit(Dataset(upload.X, upload.y), valid)
    seconds = time.perf_counter() - started
    n_flag = int(round(SHARE * upload.n_rows))
    out = {}
    for label, methods in SCREENS.items():
        chosen = tuple(consensus.ranks_) if methods is None else methods
        score = np.mean([consensus.ranks_[name] for name in chosen], axis=0)
        flagged = np.argsort(score, kind="stable")[:n_flag]
        out[label] = (
            roc_auc_score(planted, -score),
            planted[flagged].sum() / planted.sum(),
            seconds,
        )
    return out


def providers(seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """20 provider datasets, 2 of them replicas; which datasets are in a replicated pair."""
    rng = np.random.default_rng(seed)
    X, _ = make_classification(
        n_samples=N_PROVIDERS * PROVIDER_ROWS, n_features=10, n_informative=6, random_state=seed
    )
    datasets = list(X.reshape(N_PROVIDERS, PROVIDER_ROWS, -1))
    scale = X.std(axis=0)
    involved = np.zeros(N_PROVIDERS, dtype=bool)
    source_full, source_half, replica_full, replica_half = rng.choice(N_PROVIDERS, 4, False)
    copy = datasets[source_full] + NOISE * scale * rng.normal(size=datasets[source_full].shape)
    datasets[replica_full] = rng.permutation(copy)
    half = datasets[source_half][: PROVIDER_ROWS // 2]
    half = half + NOISE * scale * rng.normal(size=half.shape)
    datasets[replica_half] = np.concatenate([half, datasets[replica_half][PROVIDER_ROWS // 2 :]])
    involved[[source_full, source_half, replica_full, replica_half]] = True
    return datasets, involved


def run(seeds: list[int]) -> str:
    sections = []
    bars: dict[str, dict[str, list[float]]] = {}
    for kind in ("label flips", "backdoor triggers"):
        rows = []
        for name in DATASETS:
            results: dict[str, list[tuple[float, float, float]]] = {}
            for seed in seeds:
                train, valid, _, noisy = noisy_split(name, seed)
                upload, planted = (
                    (train, noisy) if kind == "label flips" else with_trigger(train, seed)
                )
                for label, scores in row_scores(upload, valid, planted, seed).items():
                    results.setdefault(label, []).append(scores)
            for label, runs in results.items():
                auroc, recall, seconds = np.array(runs).T
                bars.setdefault(kind, {}).setdefault(label, []).append(auroc.mean())
                rows.append(
                    [
                        name,
                        label,
                        f"{auroc.mean():.3f} ± {auroc.std():.3f}",
                        f"{recall.mean():.2f}",
                        f"{seconds.mean():.1f}",
                    ]
                )
            print(kind, *rows[-len(results) :], sep="\n", flush=True)
        header = [
            "dataset",
            "screen",
            "AUROC",
            "recall of top 10%",
            "seconds (all three detectors)",
        ]
        sections.append(f"### {kind.capitalize()} (10% of training rows)\n\n" + table(header, rows))

    aurocs, recalls, replica_sm, other_sm, seconds = [], [], [], [], []
    for seed in seeds:
        datasets, involved = providers(seed)
        started = time.perf_counter()
        matrix = similarity_matrix(datasets)
        seconds.append(time.perf_counter() - started)
        off = matrix - np.eye(N_PROVIDERS)
        score = off.max(axis=1)
        aurocs.append(roc_auc_score(involved, score))
        recalls.append((score[involved] >= SIMILAR).mean())
        pair = off >= SIMILAR
        replica_sm.extend(off[np.triu(pair, 1)].tolist())
        other_sm.extend(off[np.triu(~pair, 1)].tolist())
    sections.append(
        "### Replicated datasets (2 of 20 providers)\n\n"
        + table(
            [
                "AUROC",
                f"recall at SM ≥ {SIMILAR}",
                "SM of flagged pairs",
                "largest other SM",
                "seconds per 20×20 matrix",
            ],
            [
                [
                    f"{np.mean(aurocs):.3f}",
                    f"{np.mean(recalls):.2f}",
                    f"{np.min(replica_sm):.2f}–{np.max(replica_sm):.2f}",
                    f"{np.max(other_sm):.3f}",
                    f"{np.mean(seconds):.2f}",
                ]
            ],
        )
    )
    print(sections[-1], flush=True)
    return (
        "## Detection at 10% poisoning\n\n"
        f"Mean ± sd over seeds {seeds}. Label flips and triggers use the pruning benchmark's "
        "splits (breast cancer 200 training rows, digits 600, generated 200), scored against "
        "the clean validation rows; a trigger sets features 0–2 to 3.0 (standardised units) "
        "and the label to the first class. Replicas: a full copy and a half copy, each with "
        "1% noise, among 20 providers of 100 rows.\n\n"
        + bar_panels(
            "detection",
            {kind: {label: np.mean(v) for label, v in by.items()} for kind, by in bars.items()},
            ylabel="AUROC, mean over the 3 datasets",
            alt="AUROC of each screen for label flips and backdoor triggers, mean over the "
            "three datasets",
        )
        + "\n\n"
        + "\n\n".join(sections)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    publish(parser, args, run(args.seeds), report=REPORT, title=TITLE, key="detection")


if __name__ == "__main__":
    main()
