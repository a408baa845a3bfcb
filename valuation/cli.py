"""The command line for data scientists: value the rows or groups of a CSV/Parquet file.

    python -m valuation value TRAIN --valid VALID --label COL [--group COL] --method NAME
        [--model NAME] [--metric NAME] [--seed N] [--budget N] [--out values.csv] [--quiet]
    python -m valuation methods

Files are read and encoded by :mod:`valuation.core.tabular` (the same checks as an upload);
the output is a CSV with one line per player in input order — ``row`` (1 for the first data
row) or ``player`` (the group value), then ``value`` and ``stderr`` — and a short summary. A
bad input ends with exit code 2 and one line on stderr naming the file, row or column.

Methods come from :data:`METHODS`, a registry of name → :class:`MethodChoice` (a one-line
help and a factory taking :class:`Settings`), so a new method is one more entry. Django is
never imported here.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from valuation.core.catalog import (
    DEFAULT_METRIC,
    DEFAULT_MODEL,
    METRICS,
    MODELS,
    check_metric,
    make_model,
)
from valuation.core.dataset import Dataset
from valuation.core.methods import (
    LAVA,
    BanzhafMSR,
    BetaShapley,
    Consensus,
    DataOOB,
    ExactBanzhaf,
    ExactShapley,
    Influence,
    KNNShapley,
    LeastCore,
    LeaveOneOut,
    PermutationShapley,
    StratifiedShapley,
    TransferredShapley,
    Valuation,
)
from valuation.core.stopping import MaxEvaluations, MaxSamples, StoppingRule
from valuation.core.tabular import Encoder, TableError, infer_schema, labels, read_table

#: Utility evaluations per player when ``--budget`` is not given (sampling methods).
EVALUATIONS_PER_PLAYER = 30

#: Largest game the exact methods (and the exact least core) accept from the command line.
EXACT_MAX_PLAYERS = 16


@dataclass(frozen=True)
class Settings:
    """What a method factory may use.

    Attributes
    ----------
    model : scikit-learn estimator
        The model from ``--model`` (or the task's default).
    metric : str
        Scorer name from ``--metric`` (or the task's default).
    seed : int or None
        ``--seed``.
    budget : int
        Utility evaluations for sampling methods (``--budget``, default 30 per player).
    n_players : int
        Players of the game.
    task : str
        "classification" or "regression", inferred from the label.
    progress : callable
        ``progress(done_fraction, info)`` drawing the bar.
    """

    model: Any
    metric: str
    seed: int | None
    budget: int
    n_players: int
    task: str
    progress: Callable[[float, dict], None]


@dataclass(frozen=True)
class MethodChoice:
    """A ``--method`` entry: a one-line help and a factory ``build(settings) -> Valuation``."""

    help: str
    build: Callable[[Settings], Valuation]


def _common(s: Settings) -> dict[str, Any]:
    return {"model": s.model, "scorer": s.metric, "progress": s.progress}


def _sampling_stop(s: Settings) -> StoppingRule:
    """The budget in fits, and as many samples: a small game may have fewer coalitions than
    the budget, and once all are cached samples cost no fits."""
    return MaxEvaluations(s.budget) | MaxSamples(s.budget)


def _least_core(s: Settings) -> LeastCore:
    if s.n_players <= 12:
        return LeastCore(**_common(s))
    samples = max(s.budget - s.n_players - 2, s.n_players)
    return LeastCore(**_common(s), n_samples=samples, random_state=s.seed)


METHODS: dict[str, MethodChoice] = {
    "exact": MethodChoice(
        f"exact Shapley values, every coalition fitted once (2**n fits; n <= {EXACT_MAX_PLAYERS})",
        lambda s: ExactShapley(**_common(s), max_players=EXACT_MAX_PLAYERS),
    ),
    "permutation": MethodChoice(
        "Shapley values by permutation sampling (TMC), up to --budget fits",
        lambda s: PermutationShapley(**_common(s), random_state=s.seed, stop=_sampling_stop(s)),
    ),
    "stratified": MethodChoice(
        "Shapley values by size-stratified sampling with Neyman allocation, --budget fits",
        lambda s: StratifiedShapley(**_common(s), random_state=s.seed, budget=s.budget),
    ),
    "beta": MethodChoice(
        "Beta(16, 1) Shapley: weights small coalitions, good at finding noisy rows",
        lambda s: BetaShapley(**_common(s), random_state=s.seed, budget=s.budget),
    ),
    "banzhaf": MethodChoice(
        "Banzhaf values: exact up to 12 players, else maximum-sample-reuse sampling",
        lambda s: (
            ExactBanzhaf(**_common(s))
            if s.n_players <= 12
            else BanzhafMSR(**_common(s), random_state=s.seed, stop=_sampling_stop(s))
        ),
    ),
    "loo": MethodChoice(
        "leave-one-out: U(all) - U(all but one), n + 1 fits",
        lambda s: LeaveOneOut(**_common(s)),
    ),
    "least-core": MethodChoice(
        "egalitarian least-core payouts: all coalitions up to 12 players, else sampled",
        _least_core,
    ),
    "knn": MethodChoice(
        "exact KNN-Shapley (k=5, Jia et al.): fast, model-free, any number of rows",
        lambda s: KNNShapley(k=5, task=s.task, progress=s.progress),
    ),
    "data-oob": MethodChoice(
        "Data-OOB: accuracy of each row under the bagged trees that did not see it",
        lambda s: DataOOB(task=s.task, random_state=s.seed, progress=s.progress),
    ),
    "lava": MethodChoice(
        "LAVA: optimal-transport value to the validation data (classification, no model)",
        lambda s: LAVA(random_state=s.seed, progress=s.progress),
    ),
    "influence": MethodChoice(
        "closed-form influence of each row on the validation loss (logistic or ridge)",
        lambda s: Influence(
            model="logistic" if s.task == "classification" else "ridge", progress=s.progress
        ),
    ),
    "ts-dshapley": MethodChoice(
        "TS-DShapley: Shapley over small stratified chains with the chosen model as proxy",
        lambda s: TransferredShapley(**_common(s), random_state=s.seed),
    ),
    "consensus": MethodChoice(
        "mean normalised rank of KNN-Shapley, Data-OOB and LAVA (low = likely bad rows)",
        lambda s: Consensus(task=s.task, random_state=s.seed, progress=s.progress),
    ),
}


class UsageError(ValueError):
    """A mistake in the command or its files: reported in one line, exit code 2."""


class ProgressBar:
    """A text progress bar on a stream.

    On a terminal one line is redrawn (``\\r``) at every whole percent; elsewhere (a log
    file, a pipe) a line is written at every quarter, so logs stay readable.

    Parameters
    ----------
    stream : text stream
        Where to draw (stderr).
    width : int
        Characters of the bar itself.
    """

    def __init__(self, stream: IO[str], width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.terminal = bool(getattr(stream, "isatty", lambda: False)())
        self.shown = -1
        self.started = time.perf_counter()

    def __call__(self, fraction: float, info: dict) -> None:
        percent = int(fraction * 100)
        step = percent if self.terminal else percent // 25 * 25
        if step == self.shown:
            return
        self.shown = step
        filled = int(fraction * self.width)
        elapsed = time.perf_counter() - self.started
        detail = f"{info.get('n_evaluations', 0)} fits, {elapsed:.1f}s"
        line = f"[{'#' * filled}{'-' * (self.width - filled)}] {percent:3d}% {detail}"
        if self.terminal:
            self.stream.write(f"\r{line}" + ("\n" if percent >= 100 else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m valuation", description="Data valuation from the command line."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    value = commands.add_parser(
        "value", help="value the rows (or groups of rows) of a training file"
    )
    value.add_argument("train", help="training data: CSV or Parquet")
    value.add_argument("--valid", required=True, help="validation data with the same columns")
    value.add_argument("--label", required=True, help="the label column")
    value.add_argument("--group", help="column naming each row's player (default: every row)")
    value.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS)}")
    value.add_argument("--model", help=f"one of: {', '.join(MODELS)} (default by task)")
    value.add_argument("--metric", help=f"one of: {', '.join(METRICS)} (default by task)")
    value.add_argument("--seed", type=int, help="random seed (default: fresh, printed)")
    value.add_argument(
        "--budget",
        type=int,
        help=f"utility evaluations for sampling methods (default {EVALUATIONS_PER_PLAYER}/player)",
    )
    value.add_argument("--out", help="output CSV (default: standard output)")
    value.add_argument("--quiet", action="store_true", help="no progress bar")
    commands.add_parser("methods", help="list the methods")
    return parser


@dataclass
class Problem:
    """The game the command line builds: data, players and what the output rows are."""

    train: Dataset
    valid: Dataset
    task: str
    player_column: str
    player_labels: list[str]


def load_problem(train_path: str, valid_path: str, label: str, group: str | None) -> Problem:
    """Read, check and encode both files (raises TableError or UsageError)."""
    train_frame = read_table(train_path, name=Path(train_path).name)
    valid_frame = read_table(valid_path, name=Path(valid_path).name)
    train_name, valid_name = Path(train_path).name, Path(valid_path).name
    if group is not None and group not in train_frame.columns:
        raise UsageError(f"{train_name}: group column {group!r} not found")
    if group is not None and group == label:
        raise UsageError("--group and --label name the same column")
    if label not in train_frame.columns:
        raise UsageError(
            f"{train_name}: label column {label!r} not found; columns are "
            f"{', '.join(map(repr, train_frame.columns))}"
        )
    if label not in valid_frame.columns:
        raise UsageError(f"{valid_name}: label column {label!r} not found")
    features = [c for c in train_frame.columns if c not in (label, group)]
    others = [c for c in valid_frame.columns if c not in (label, group)]
    missing = [c for c in features if c not in others]
    extra = [c for c in others if c not in features]
    if missing or extra:
        parts = [f"lacks {', '.join(map(repr, missing))}"] if missing else []
        parts += [f"has extra {', '.join(map(repr, extra))}"] if extra else []
        raise UsageError(
            f"{valid_name} does not have the feature columns of {train_name}: it "
            + " and ".join(parts)
        )
    schema = _schema(train_frame, label, features, None, train_name)
    valid_schema = _schema(valid_frame, label, features, schema.task, valid_name)
    encoder = Encoder.for_schemas(schema, [valid_schema])
    X, X_valid = encoder.transform(train_frame), encoder.transform(valid_frame)
    y, y_valid = labels(train_frame, schema), labels(valid_frame, valid_schema)
    if group is None:
        train = Dataset(X, y, feature_names=encoder.output_names)
        player_labels = [str(row) for row in range(1, len(train_frame) + 1)]
        column = "row"
    else:
        if train_frame[group].isna().any():
            row = int(np.flatnonzero(train_frame[group].isna().to_numpy())[0]) + 1
            raise UsageError(f"{train_name}: group column {group!r} is empty in row {row}")
        groups = train_frame[group].astype(str).to_numpy()
        train = Dataset(X, y, groups=groups, feature_names=encoder.output_names)
        player_labels = [str(name) for name in train.player_names]
        column = "player"
    valid = Dataset(X_valid, y_valid, feature_names=encoder.output_names)
    return Problem(train, valid, schema.task, column, player_labels)


def _schema(frame, label, features, task, name):
    try:
        return infer_schema(frame, label=label, features=features, task=task)
    except TableError as error:
        raise TableError(f"{name}: {error.message}", row=error.row, column=error.column) from None


def _write_values(stream: IO[str], column: str, players: Sequence[str], result) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([column, "value", "stderr"])
    for player, value, error in zip(players, result.values, result.stderr, strict=True):
        writer.writerow([player, f"{value:.12g}", f"{error:.12g}"])


def _summary(method: str, estimator: Valuation, problem: Problem, seconds: float) -> str:
    result = estimator.result_
    names = problem.player_labels
    kind = "rows" if problem.player_column == "row" else "players"
    lines = [
        f"{method}: {len(names)} {kind}, {estimator.n_utility_evaluations_} model fits, "
        f"{seconds:.1f}s" + (f", seed {estimator.seed_}" if hasattr(estimator, "seed_") else "")
    ]
    if result.total_gain is not None:
        lines.append(
            f"U(all) - U(none) = {result.total_gain:.6g}; sum of values = "
            f"{float(np.sum(result.values)):.6g}"
        )
    k = min(3, len(names))

    def show(indices) -> str:
        return ", ".join(
            f"{problem.player_column} {names[i]} {result.values[i]:+.4g} ± {result.stderr[i]:.2g}"
            for i in indices
        )

    lines.append(f"highest: {show(result.top(k))}")
    lines.append(f"lowest: {show(result.bottom(k))}")
    return "\n".join(lines)


def run_value(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """The ``value`` command; raises TableError / UsageError / ValueError on bad input."""
    if args.method not in METHODS:
        raise UsageError(f"unknown method {args.method!r}; choose one of {', '.join(METHODS)}")
    if args.budget is not None and args.budget < 1:
        raise UsageError(f"--budget must be a positive number of fits, got {args.budget}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be non-negative, got {args.seed}")
    problem = load_problem(args.train, args.valid, args.label, args.group)
    task = problem.task
    model = make_model(args.model or DEFAULT_MODEL[task], task)
    metric = check_metric(args.metric or DEFAULT_METRIC[task], task)
    n = problem.train.n_players
    settings = Settings(
        model=model,
        metric=metric,
        seed=args.seed,
        budget=args.budget or EVALUATIONS_PER_PLAYER * n,
        n_players=n,
        task=task,
        progress=(lambda f, i: None) if args.quiet else ProgressBar(stderr),
    )
    estimator = METHODS[args.method].build(settings)
    started = time.perf_counter()
    estimator.fit(problem.train, problem.valid)
    seconds = time.perf_counter() - started
    summary = _summary(args.method, estimator, problem, seconds)
    if args.out:
        buffer = io.StringIO()
        _write_values(buffer, problem.player_column, problem.player_labels, estimator.result_)
        Path(args.out).write_text(buffer.getvalue())
        stdout.write(f"{summary}\nwrote {args.out}\n")
    else:
        _write_values(stdout, problem.player_column, problem.player_labels, estimator.result_)
        stderr.write(summary + "\n")
    return 0


def main(argv: Sequence[str] | None = None, stdout: IO[str] | None = None, stderr=None) -> int:
    """Run the command line; returns the exit code (2 for bad input, with one line)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = _parser().parse_args(argv)
    if args.command == "methods":
        width = max(map(len, METHODS))
        for name, choice in METHODS.items():
            stdout.write(f"{name:<{width}}  {choice.help}\n")
        return 0
    try:
        return run_value(args, stdout, stderr)
    except (TableError, ValueError) as error:
        message = error.message if isinstance(error, TableError) else str(error)
        stderr.write(f"error: {message}\n")
        return 2
