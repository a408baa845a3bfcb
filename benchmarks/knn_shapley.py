"""Benchmarks of KNNShapley: speed against pyDVL, growth to 10^6 rows, noisy-label detection.

    python -m benchmarks.knn_shapley                  # all parts; updates docs/benchmarks/knn.md
    python -m benchmarks.knn_shapley --only speed     # or: scale, quality
    python -m benchmarks.knn_shapley --only scale --sizes 10000 100000

The pyDVL comparison runs pyDVL 0.10 in its own venv (``bash benchmarks/compare/setup.sh``);
without it that column says so. Every part prints its markdown table and rewrites its own
block of ``docs/benchmarks/knn.md`` (the Data-OOB speed block belongs to
``benchmarks.data_oob``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import sklearn
from scipy.stats import spearmanr
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from valuation.core.dataset import Dataset
from valuation.core.methods.knn import KNNShapley
from valuation.core.methods.oob import DataOOB
from valuation.core.result import ValuationResult

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks" / "knn.md"
COMPARE = ROOT / "benchmarks" / "compare"
PYDVL_PYTHON = COMPARE / ".venv" / "bin" / "python"


# --- the report file ------------------------------------------------------------------------


def machine() -> str:
    """One line describing where the figures were measured."""
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, {time.strftime('%Y-%m-%d')}; 1-minute load average "
        f"{os.getloadavg()[0]:.1f} when written (the machine is shared)"
    )


def write_section(key: str, body: str) -> None:
    """Replace the block ``key`` of docs/benchmarks/knn.md with ``body`` (appended if new)."""
    begin, end = f"<!-- begin:{key} -->", f"<!-- end:{key} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    text = REPORT.read_text() if REPORT.exists() else "# KNN-Shapley and Data-OOB benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text}\n{block}\n"
    REPORT.write_text(text)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --- speed against pyDVL --------------------------------------------------------------------


def _chunk(args: tuple[Dataset, Dataset, int, int, int]) -> dict:
    train, valid, k, start, stop = args
    return KNNShapley(k=k).fit_chunk(train, valid, start=start, stop=stop).to_dict()


def _run_pydvl(data: Path, n_jobs: int, k: int) -> tuple[dict, np.ndarray] | None:
    if not PYDVL_PYTHON.exists():
        return None
    out = data.with_name(f"pydvl_{n_jobs}.npz")
    completed = subprocess.run(
        [str(PYDVL_PYTHON), str(COMPARE / "pydvl_knn.py"), str(data), str(out)]
        + ["--k", str(k), "--n-jobs", str(n_jobs)],
        check=True,
        capture_output=True,
        text=True,
    )
    timing = json.loads(completed.stdout.strip().splitlines()[-1])
    return timing, np.load(out)["values"]


def speed(n_train: int = 20_000, n_valid: int = 2_000, k: int = 5) -> str:
    """Our KNNShapley (1 process, and 2 chunk workers) against pyDVL (1 and 2 jobs)."""
    X, y = make_classification(
        n_samples=n_train + n_valid, n_features=32, n_informative=16, random_state=0
    )
    train, valid = Dataset(X[:n_train], y[:n_train]), Dataset(X[n_train:], y[n_train:])
    start, cpu = time.perf_counter(), time.process_time()
    ours = KNNShapley(k=k).fit(train, valid).result_.values
    ours_seconds, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    with ProcessPoolExecutor(2, mp_context=get_context("fork")) as pool:
        list(pool.map(abs, [0, 1]))  # start both workers before the clock, as Celery's are
        start = time.perf_counter()
        halves = [(train, valid, k, 0, n_valid // 2), (train, valid, k, n_valid // 2, n_valid)]
        merged = sum(ValuationResult.from_dict(d) for d in pool.map(_chunk, halves))
        two_seconds = time.perf_counter() - start
    assert np.abs(merged.values - ours).max() < 1e-12
    rows = [
        ["DataFair KNNShapley, 1 process", f"{ours_seconds:.2f}", f"{ours_cpu:.2f}", "", ""],
        ["DataFair KNNShapley, 2 chunk workers", f"{two_seconds:.2f}", "", "", ""],
    ]
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data.npz"
        np.savez(data, x_train=train.X, y_train=train.y, x_valid=valid.X, y_valid=valid.y)
        for n_jobs, mine in ((1, ours_seconds), (2, two_seconds)):
            run = _run_pydvl(data, n_jobs, k)
            if run is None:
                rows.append(
                    [f"pyDVL 0.10, {n_jobs} job(s)", "not run (no compare venv)"] + [""] * 3
                )
                continue
            timing, values = run
            faster = f"{timing['seconds'] / mine:.1f}×"
            cpu = ""
            if n_jobs == 1:
                cpu = f"{timing['cpu_seconds']:.2f}"
                faster += f" ({timing['cpu_seconds'] / ours_cpu:.1f}× in CPU time)"
            diff = np.abs(values - ours).max()
            rows.append(
                [f"pyDVL 0.10, {n_jobs} job(s)", f"{timing['seconds']:.2f}", cpu, faster]
                + [f"{diff:.1e}"]
            )
    header = ["implementation", "seconds", "CPU seconds", "DataFair faster by", "max abs diff"]
    return (
        f"## KNN-Shapley speed against pyDVL\n\n{n_train:,} training × {n_valid:,} validation "
        f"rows, 32 features (make_classification), k={k}, exact values. pyDVL runs in its own "
        'venv on the same arrays; "faster by" compares like with like (1 process with 1 job, '
        "2 workers with 2 jobs). DataFair's 2-worker time is two `fit_chunk` halves in a warm "
        "process pool, merged with `+`, as two Celery workers would run them. On a busy "
        "machine 2 jobs or workers can take longer than 1: both sides then share the two "
        "cores with other work.\n\n" + table(header, rows)
    )


# --- growth with the number of training rows --------------------------------------------------


def scale_one(n_train: int, n_valid: int, truncation: int | None, valid_rows: int) -> dict:
    """One size, in this (fresh) process: time and memory of valuing ``valid_rows`` rows."""
    X, y = make_classification(
        n_samples=n_train + n_valid, n_features=32, n_informative=16, random_state=0
    )
    train, valid = Dataset(X[:n_train], y[:n_train]), Dataset(X[n_train:], y[n_train:])
    del X, y
    method = KNNShapley(k=5, truncation=truncation)
    tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    partial = method.fit_chunk(train, valid, start=0, stop=valid_rows)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    report = {
        "n_train": n_train,
        "valid_rows": valid_rows,
        "truncation": truncation,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "fit_peak_mib": peak / 2**20,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bound": float(method.truncation_error_bound_.max()),
    }
    if truncation is not None and n_train <= 100_000:
        exact = KNNShapley(k=5).fit_chunk(train, valid, start=0, stop=valid_rows)
        report["max_error"] = float(np.abs(exact.values - partial.values).max())
        report["mean_abs_value"] = float(np.abs(exact.values).mean())
        report["spearman"] = float(spearmanr(exact.values, partial.values).statistic)
    return report


def _scale_in_subprocess(n_train: int, n_valid: int, truncation: int | None, rows: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.knn_shapley", "--scale-one", str(n_train)]
    command += ["--n-valid", str(n_valid), "--valid-rows", str(rows)]
    command += ["--truncation", str(truncation or 0)]
    completed = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def scale(sizes: list[int], n_valid: int = 10_000, keep: int = 1_000) -> str:
    """Exact up to 10^5 rows, truncated at K* = ``keep`` from 10^5 on; exact 10^6 sampled."""
    plans = []
    for n in sizes:
        if n <= 100_000:
            plans.append((n, None, n_valid))
        if n >= 100_000:
            plans.append((n, keep, n_valid))
        if n > 100_000:
            plans.append((n, None, 200))  # exact on 200 validation rows, extrapolated
    rows = []
    for n, truncation, valid_rows in plans:
        r = _scale_in_subprocess(n, n_valid, truncation, valid_rows)
        extrapolated = r["seconds"] * n_valid / valid_rows
        mode = "exact" if truncation is None else f"truncated, K*={truncation}"
        error = (
            f"{r['max_error']:.1e} (mean abs value {r['mean_abs_value']:.1e}; Spearman "
            f"{r['spearman']:.3f})"
            if "max_error" in r
            else ""
        )
        rows.append(
            [
                f"{n:,}",
                mode,
                f"{valid_rows:,}",
                f"{r['seconds']:.1f} ({r['cpu_seconds']:.1f})",
                f"{extrapolated:.0f}" + (" (extrapolated)" if valid_rows < n_valid else ""),
                f"{r['fit_peak_mib']:.0f}",
                f"{r['maxrss_mib']:.0f}",
                "0" if truncation is None else f"{r['bound']:.1e}",
                error,
            ]
        )
        print(rows[-1], flush=True)
    header = [
        "training rows",
        "values",
        "validation rows run",
        "seconds (CPU seconds)",
        f"seconds for {n_valid:,} validation rows",
        "fit peak MiB (tracemalloc)",
        "process peak RSS MiB",
        "error bound per value",
        "measured max error vs exact",
    ]
    return (
        f"## KNN-Shapley scale\n\n{n_valid:,} validation rows, 32 features, k=5, one process "
        "per size (fresh interpreter; the peak RSS includes the generated data: 10^6 × 32 "
        "float64 = 244 MiB). Exact values need a full ranking per validation row "
        "(O(N log N)); truncation ranks only the K* nearest (O(N) per row) and states its "
        "error bound, max(1/K* − 1/N, 1/(K*+1)) per value. Where exact would take too long "
        "it was run on 200 validation rows and scaled linearly (the work is linear in "
        "validation rows). CPU seconds next to wall seconds show how much of the wall time "
        "went to waiting for a shared core.\n\n" + table(header, rows)
    )


# --- noisy-label detection --------------------------------------------------------------------


def detection_data(name: str, seed: int) -> tuple[Dataset, Dataset, np.ndarray]:
    """70/30 split, standardised on train, 10% of training labels flipped to another class."""
    if name == "breast cancer":
        X, y = load_breast_cancer(return_X_y=True)
    elif name == "digits":
        X, y = load_digits(return_X_y=True)
    else:
        X, y = make_classification(
            n_samples=2_000, n_features=20, n_informative=10, n_classes=3, random_state=seed
        )
    X_train, X_valid, y_train, y_valid = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(y_train), size=len(y_train) // 10, replace=False)
    classes = np.unique(y)
    noisy = y_train.copy()
    for i in flipped:
        noisy[i] = rng.choice(classes[classes != y_train[i]])
    train = Dataset(scaler.transform(X_train), noisy)
    valid = Dataset(scaler.transform(X_valid), y_valid)
    return train, valid, np.isin(np.arange(len(noisy)), flipped)


def detection_scores(values: np.ndarray, flipped: np.ndarray) -> tuple[float, float]:
    """AUROC of −value against the flipped rows; F1 of calling the lowest 10% flipped."""
    lowest = np.argsort(values, kind="stable")[: len(values) // 10]
    called = np.isin(np.arange(len(values)), lowest)
    return roc_auc_score(flipped, -values), f1_score(flipped, called)


def quality(seeds: tuple[int, ...] = (0, 1, 2)) -> str:
    methods = {
        "KNNShapley (k=5)": lambda train, valid: KNNShapley(k=5).fit(train, valid),
        "DataOOB (200 trees)": lambda train, valid: DataOOB(n_estimators=200, random_state=0).fit(
            train
        ),
    }
    rows = []
    for name in ("breast cancer", "digits", "generated"):
        for label, run in methods.items():
            aurocs, f1s, seconds = [], [], []
            for seed in seeds:
                train, valid, flipped = detection_data(name, seed)
                start = time.perf_counter()
                values = run(train, valid).result_.values
                seconds.append(time.perf_counter() - start)
                auroc, f1 = detection_scores(values, flipped)
                aurocs.append(auroc)
                f1s.append(f1)
            rows.append(
                [
                    f"{name} ({train.n_rows} train / {valid.n_rows} valid)",
                    label,
                    f"{np.mean(aurocs):.3f} ± {np.std(aurocs):.3f}",
                    f"{np.mean(f1s):.3f} ± {np.std(f1s):.3f}",
                    f"{np.mean(seconds):.2f}",
                ]
            )
            print(rows[-1], flush=True)
    header = ["dataset", "method", "AUROC", "F1 of lowest 10%", "seconds"]
    return (
        "## Noisy-label detection\n\n10% of the training labels flipped to another class; "
        "features standardised on the training part of a stratified 70/30 split. AUROC of "
        "−value against the flipped rows, and F1 when the lowest 10% of values are called "
        f"flipped. Mean ± sd over seeds {list(seeds)} (split, flips; DataOOB's own seed 0). "
        "The generated data: make_classification, 2,000 rows, 20 features (10 informative), "
        "3 classes. KNNShapley values against the validation part; DataOOB needs none.\n\n"
        + table(header, rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["speed", "scale", "quality"], action="append")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--n-valid", type=int, default=10_000, help=argparse.SUPPRESS)
    parser.add_argument("--valid-rows", type=int, default=10_000, help=argparse.SUPPRESS)
    parser.add_argument("--truncation", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_one:
        result = scale_one(args.scale_one, args.n_valid, args.truncation or None, args.valid_rows)
        print(json.dumps(result))
        return
    parts = {
        "knn-speed": lambda: speed(),
        "knn-scale": lambda: scale(args.sizes),
        "knn-quality": lambda: quality(),
    }
    chosen = args.only or ["speed", "scale", "quality"]
    for key, part in parts.items():
        if key.removeprefix("knn-") not in chosen:
            continue
        body = part() + f"\n\nMeasured on {machine()}. Command: `python -m benchmarks.knn_shapley"
        body += f" --only {key.removeprefix('knn-')}`."
        print(body, flush=True)
        if not args.no_write:
            write_section(key, body)


if __name__ == "__main__":
    main()
