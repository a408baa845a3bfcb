"""The command line for data scientists: value, debug and acquire the rows of CSV/Parquet files.

    python -m valuation value TRAIN --valid VALID --label COL [--group COL] --method NAME
        [--model NAME] [--metric NAME] [--seed N] [--budget N] [--out values.csv] [--quiet]
    python -m valuation methods
    python -m valuation quality TRAIN --valid V --label COL [--model M] [--metric S]
        [--seed N] [--share 0.1] [--out report.json]
    python -m valuation prune TRAIN --valid V --label COL --group COL [--model M] [--metric S]
        [--seed N] [--share 0.1] [--out prune.json]
    python -m valuation buy-rows TRAIN --valid V --label COL --budget-cents N
        --cents-per-point P [--floor-cents 1] [--k 5] [--out rows.csv]
    python -m valuation rank-pool LABELED --pool POOL --valid V --label COL
        [--strategy value|uncertainty|random] [--batch 10] [--seed N] [--out ranked.csv]
    python -m valuation explain TRAIN --valid V --label COL [--group COL] [--model M]
        [--top 5] [--out explain.json]
    python -m valuation sensitivity TRAIN --valid V --label COL [--group COL]
        [--loss-increase 0.1] [--out sensitivity.json]
    python -m valuation screen UPLOAD --reference REF --label COL [--against OTHER ...]
        [--share 0.1] [--seed N] [--out screen.json]

Files are read and encoded by :mod:`valuation.core.tabular` (the same checks as an upload).
``value`` writes a CSV with one line per player in input order — ``row`` (1 for the first
data row) or ``player`` (the group value), then ``value`` and ``stderr`` — and a short
summary. The data-centric commands (``quality`` … ``screen``) are thin wrappers of
:mod:`valuation.core.quality`, :mod:`~valuation.core.acquisition`,
:mod:`~valuation.core.debugging` and :mod:`~valuation.core.detection`: each prints a short
summary and, with ``--out``, writes JSON or CSV in which every row is a 1-based data row of
its file, as in ``value`` (grouped rows also name their ``player``). A bad input ends with
exit code 2 and one line on stderr naming the file, row or column.

Methods come from :data:`METHODS`, a registry of name → :class:`MethodChoice` (a one-line
help and a factory taking :class:`Settings`), so a new method is one more entry; commands
from :data:`RUNNERS`. Django is never imported here.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from valuation.core.acquisition import PoolRanker, buy_rows, row_prices
from valuation.core.catalog import (
    DEFAULT_METRIC,
    DEFAULT_MODEL,
    METRICS,
    MODELS,
    check_metric,
    make_model,
)
from valuation.core.dataset import Dataset
from valuation.core.debugging import explain_mispredictions, sensitivity_report
from valuation.core.detection import (
    Findings,
    PoisonScreen,
    ScreeningRules,
    dataset_similarity,
    screen_labels,
    screen_similarity,
)
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
    RowShapley,
    StratifiedShapley,
    TransferredShapley,
    Valuation,
)
from valuation.core.quality import prune_suggestions, quality_report
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
    "rows": MethodChoice(
        "row-level Shapley values summed per --group: no regrouping of rows moves a total",
        lambda s: RowShapley(**_common(s), random_state=s.seed, budget=s.budget),
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
    _data_centric_parsers(commands)
    return parser


def _command(commands, name: str, text: str, *, first: str = "train", other: str = "--valid"):
    """A subcommand reading a labeled file and a second file of the same columns."""
    command = commands.add_parser(name, help=text, description=text)
    command.add_argument(first, help=f"{first} data: CSV or Parquet")
    command.add_argument(other, required=True, help="file with the same columns (and label)")
    command.add_argument("--label", required=True, help="the label column")
    return command


def _model_options(command, *, metric: bool = True) -> None:
    command.add_argument("--model", help=f"one of: {', '.join(MODELS)} (default by task)")
    if metric:
        command.add_argument("--metric", help=f"one of: {', '.join(METRICS)} (default by task)")
    command.add_argument("--seed", type=int, help="random seed of the detectors")


def _data_centric_parsers(commands) -> None:
    """The data-centric subcommands (see the module docstring)."""
    share = {"type": float, "default": 0.1, "help": "share of rows flagged (default 0.1)"}
    quality = _command(commands, "quality", "a quality report of the rows of a training file")
    _model_options(quality)
    quality.add_argument("--share", **share)
    quality.add_argument("--out", help="output JSON")

    prune = _command(commands, "prune", "datasets (groups) and rows to drop from a bundle")
    prune.add_argument("--group", required=True, help="column naming each row's dataset")
    _model_options(prune)
    prune.add_argument("--share", **share)
    prune.add_argument("--out", help="output JSON")

    buy = _command(commands, "buy-rows", "the most valuable rows within a budget (KNN-Shapley)")
    buy.add_argument("--budget-cents", type=int, required=True, help="budget in cents")
    buy.add_argument(
        "--cents-per-point",
        type=int,
        required=True,
        help="price of one point (0.01) of row value, in cents",
    )
    buy.add_argument("--floor-cents", type=int, default=1, help="least price of a row (1)")
    buy.add_argument("--k", type=int, default=5, help="neighbours of KNN-Shapley (5)")
    buy.add_argument("--out", help="output CSV of the chosen rows")

    rank = _command(commands, "rank-pool", "rank an unlabeled pool for annotation", first="labeled")
    rank.add_argument("--pool", required=True, help="unlabeled rows: the feature columns only")
    rank.add_argument(
        "--strategy", choices=("value", "uncertainty", "random"), default="value", help="(value)"
    )
    rank.add_argument("--batch", type=int, default=10, help="pool rows to list (10)")
    rank.add_argument("--seed", type=int, help="random seed")
    rank.add_argument("--out", help="output CSV")

    explain = _command(commands, "explain", "the training rows behind each wrong prediction")
    explain.add_argument("--group", help="column naming each row's dataset")
    _model_options(explain, metric=False)
    explain.add_argument("--top", type=int, default=5, help="rows listed per prediction (5)")
    explain.add_argument("--out", help="output JSON")

    sensitivity = _command(
        commands, "sensitivity", "how few rows a linear model's conclusions rest on (AMIP)"
    )
    sensitivity.add_argument("--group", help="column naming each row's dataset")
    sensitivity.add_argument(
        "--loss-increase", type=float, default=0.1, help="relative loss rise sought (0.1)"
    )
    sensitivity.add_argument("--out", help="output JSON")

    screen = _command(
        commands,
        "screen",
        "screen an upload for flipped labels, backdoors and copies",
        first="upload",
        other="--reference",
    )
    screen.add_argument(
        "--against", action="append", default=[], help="a dataset to compare with (repeatable)"
    )
    screen.add_argument("--share", **share)
    screen.add_argument("--seed", type=int, help="random seed of the detectors")
    screen.add_argument("--out", help="output JSON")


@dataclass
class Problem:
    """The game the command line builds: data, players and what the output rows are.

    ``encoder`` and ``features`` turn further files of the same layout (a pool, another
    dataset) into matrices comparable with ``train`` (:func:`load_features`).
    """

    train: Dataset
    valid: Dataset
    task: str
    player_column: str
    player_labels: list[str]
    encoder: Encoder | None = None
    features: tuple[str, ...] = ()


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
    _check_features(valid_frame, features, (label, group), valid_name, train_name)
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
    return Problem(train, valid, schema.task, column, player_labels, encoder, tuple(features))


def load_features(path: str, problem: Problem, *, label: str, labeled: bool) -> np.ndarray:
    """The encoded feature matrix of another file with the training file's feature columns.

    ``labeled`` False (a pool to annotate) refuses a file holding the label column; True
    ignores it (another dataset to compare with). Raises TableError or UsageError.
    """
    name = Path(path).name
    frame = read_table(path, name=name)
    if not labeled and label in frame.columns:
        raise UsageError(
            f"{name} has the label column {label!r}; a pool is unlabeled: drop that column"
        )
    _check_features(frame, problem.features, (label,), name, "the training file")
    empty = frame[list(problem.features)].isna().to_numpy()
    if empty.any():
        row, column = np.argwhere(empty)[0]
        raise UsageError(f"{name}: column {problem.features[column]!r} is empty in row {row + 1}")
    X = problem.encoder.transform(frame)
    if not np.isfinite(X).all():
        row, column = np.argwhere(~np.isfinite(X))[0]
        raise UsageError(
            f"{name}: column {problem.encoder.output_names[column]!r} is infinite in row {row + 1}"
        )
    return X


def _check_features(frame, features, ignored, name: str, reference: str) -> None:
    """UsageError unless ``frame``'s columns (less ``ignored``) are exactly ``features``."""
    others = [c for c in frame.columns if c not in ignored]
    missing = [c for c in features if c not in others]
    extra = [c for c in others if c not in features]
    if missing or extra:
        parts = [f"lacks {', '.join(map(repr, missing))}"] if missing else []
        parts += [f"has extra {', '.join(map(repr, extra))}"] if extra else []
        raise UsageError(
            f"{name} does not have the feature columns of {reference}: it " + " and ".join(parts)
        )


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
    _check_seed(args)
    problem = load_problem(args.train, args.valid, args.label, args.group)
    task = problem.task
    model, metric = _model_and_metric(args, task)
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


def _check_seed(args: argparse.Namespace) -> None:
    if getattr(args, "seed", None) is not None and args.seed < 0:
        raise UsageError(f"--seed must be non-negative, got {args.seed}")


def _model_and_metric(args: argparse.Namespace, task: str) -> tuple[Any, str]:
    """The model and metric named by ``--model`` / ``--metric``, or the task's defaults."""
    model = make_model(getattr(args, "model", None) or DEFAULT_MODEL[task], task)
    metric = check_metric(getattr(args, "metric", None) or DEFAULT_METRIC[task], task)
    return model, metric


def _check_share(args: argparse.Namespace) -> None:
    if not 0 < args.share < 1:
        raise UsageError(f"--share must lie strictly between 0 and 1, got {args.share}")


def _positive(args: argparse.Namespace, **names: int) -> None:
    """UsageError unless every ``--option`` value is at least its given minimum."""
    for name, least in names.items():
        value = getattr(args, name)
        if value < least:
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option} must be at least {least}, got {value}")


def _classification_only(problem: Problem, command: str, why: str) -> None:
    if problem.task != "classification":
        raise UsageError(f"{command} needs a classification label ({why}); this one is numeric")


def _emit(
    args: argparse.Namespace, stdout: IO[str], summary: str, render: Callable[[], str]
) -> int:
    """Print the summary; with ``--out`` also write ``render()`` there."""
    if args.out:
        Path(args.out).write_text(render())
        summary += f"\nwrote {args.out}"
    stdout.write(summary + "\n")
    return 0


def _json(data: Any) -> Callable[[], str]:
    return lambda: json.dumps(data, indent=2) + "\n"


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Callable[[], str]:
    def render() -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buffer.getvalue()

    return render


def _listed(rows: Sequence[int], most: int = 10) -> str:
    """File rows (already 1-based) for a summary line, the first ``most`` of them."""
    if not rows:
        return "none"
    shown = ", ".join(str(row) for row in rows[:most])
    return shown + (f", … ({len(rows)} in all)" if len(rows) > most else "")


def _file_row_of(train: Dataset) -> Callable[[dict], dict]:
    """Turn a core ``{"player", "row" within player}`` into the file's 1-based data row."""
    if train.groups is None:
        return lambda where: {"row": where["row"] + 1}
    members = {
        str(name): np.flatnonzero(train.player_of_row == player)
        for player, name in enumerate(train.player_names)
    }
    return lambda where: {
        "row": int(members[where["player"]][where["row"]]) + 1,
        "player": where["player"],
    }


def _change(before: float, after: float) -> str:
    return f"{before:.4g} -> {after:.4g} ({after - before:+.4g})"


def _flagging(args: argparse.Namespace, group: str | None) -> tuple[Problem, dict[str, Any]]:
    """The problem and the keyword arguments of ``quality_report`` / ``prune_suggestions``."""
    _check_seed(args)
    _check_share(args)
    problem = load_problem(args.train, args.valid, args.label, group)
    model, metric = _model_and_metric(args, problem.task)
    options = {"model": model, "scorer": metric, "task": problem.task}
    return problem, {**options, "flag_share": args.share, "random_state": args.seed}


def run_quality(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``quality``: suspects, duplicates, conflicts, outliers, each removal measured."""
    problem, options = _flagging(args, None)
    report = quality_report(problem.train, problem.valid, **options).to_dict()
    report["suspects"] = [{**item, "row": item["row"] + 1} for item in report["suspects"]]
    for key in ("duplicates", "outliers"):
        report[key] = [row + 1 for row in report[key]]
    report["label_conflicts"] = [[row + 1 for row in group] for group in report["label_conflicts"]]
    for removal in report["removals"]:
        removal["rows"] = [row + 1 for row in removal["rows"]]
    conflicts = "; ".join(_listed(group) for group in report["label_conflicts"]) or "none"
    lines = [
        f"quality: {report['n_rows']} rows, metric {report['scorer']}",
        f"suspect rows (lowest {args.share:g} by consensus): "
        + _listed([item["row"] for item in report["suspects"]]),
        f"exact duplicates: {_listed(report['duplicates'])}",
        f"label conflicts: {conflicts}",
        f"outliers: {_listed(report['outliers'])}",
    ]
    lines += [
        f"without {removal['kind']} ({len(removal['rows'])} rows): {report['scorer']} "
        + _change(removal["score_before"], removal["score_after"])
        for removal in report["removals"]
    ]
    return _emit(args, stdout, "\n".join(lines), _json(report))


def run_prune(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``prune``: datasets of a bundle, and rows, whose removal raises the metric."""
    problem, options = _flagging(args, args.group)
    bundle, metric = problem.train, options["scorer"]
    found = prune_suggestions(bundle, problem.valid, **options)
    datasets = [
        {
            "dataset": str(bundle.player_names[bundle.player_of_row[item["rows"][0]]]),
            "rows": [row + 1 for row in item["rows"]],
            **{key: item[key] for key in ("score_before", "score_after", "change")},
        }
        for item in found["datasets"]
    ]
    rows = {**found["rows"], "rows": [row + 1 for row in found["rows"]["rows"]]}
    del rows["kind"]
    out = {"metric": metric, "score": found["score"], "datasets": datasets, "rows": rows}
    lines = [
        f"prune: {bundle.n_players} datasets, {bundle.n_rows} rows; {metric} {out['score']:.4g}"
    ]
    lines += [
        f"drop dataset {item['dataset']} ({len(item['rows'])} rows): {metric} "
        + _change(item["score_before"], item["score_after"])
        for item in datasets
    ] or [f"no dataset's removal raises {metric}"]
    lines.append(
        f"drop suspect rows {_listed(rows['rows'])}: {metric} "
        + _change(rows["score_before"], rows["score_after"])
    )
    return _emit(args, stdout, "\n".join(lines), _json(out))


def run_buy_rows(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``buy-rows``: KNN-Shapley row values, prices from them, the best set within budget."""
    _positive(args, budget_cents=0, cents_per_point=1, floor_cents=1, k=1)
    problem = load_problem(args.train, args.valid, args.label, None)
    knn = KNNShapley(k=args.k, task=problem.task).fit(problem.train, problem.valid)
    values = knn.result_.values
    # A value is in metric units, so one point (0.01) costs --cents-per-point cents.
    prices = row_prices(values, rate=100 * args.cents_per_point, floor=args.floor_cents)
    chosen, exact = buy_rows(values, prices, args.budget_cents)
    total = int(prices[chosen].sum())
    lines = [
        f"buy-rows: {chosen.size} of {problem.train.n_rows} rows for {total} cents "
        f"(budget {args.budget_cents}; {'optimal' if exact else 'greedy'} choice), total value "
        f"{float(values[chosen].sum()):.4g}",
        f"rows: {_listed([int(row) + 1 for row in chosen])}",
    ]
    table = [[int(row) + 1, f"{values[row]:.12g}", int(prices[row])] for row in chosen]
    return _emit(args, stdout, "\n".join(lines), _csv(["row", "value", "price_cents"], table))


def run_rank_pool(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``rank-pool``: the pool rows to annotate first."""
    _check_seed(args)
    _positive(args, batch=1)
    problem = load_problem(args.labeled, args.valid, args.label, None)
    _classification_only(problem, "rank-pool", "it ranks by class uncertainty and KNN-Shapley")
    X_pool = load_features(args.pool, problem, label=args.label, labeled=False)
    ranker = PoolRanker(strategy=args.strategy, random_state=args.seed)
    ranker.fit(problem.train, X_pool, problem.valid)
    first = ranker.next_batch(args.batch)
    table = [
        [rank, int(row) + 1, f"{ranker.scores_[row]:.12g}"] for rank, row in enumerate(first, 1)
    ]
    lines = [
        f"rank-pool ({args.strategy}): {X_pool.shape[0]} pool rows; annotate first: "
        + _listed([int(row) + 1 for row in first])
    ]
    return _emit(args, stdout, "\n".join(lines), _csv(["rank", "row", "score"], table))


def run_explain(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``explain``: the training rows behind each wrong prediction."""
    _positive(args, top=1)
    problem = load_problem(args.train, args.valid, args.label, args.group)
    _classification_only(problem, "explain", "it explains mispredicted classes")
    model, _ = _model_and_metric(args, problem.task)
    explained = [
        item.to_dict()
        for item in explain_mispredictions(problem.train, problem.valid, model=model, top=args.top)
    ]
    where = _file_row_of(problem.train)
    out = [
        {
            **item,
            "valid_row": item["valid_row"] + 1,
            "drivers": [
                {**where(driver), "label": driver["label"], "value": driver["value"]}
                for driver in item["drivers"]
            ],
        }
        for item in explained
    ]
    lines = [f"explain: {len(out)} mispredicted validation rows explained"]
    lines += [
        f"validation row {item['valid_row']}: label {item['label']!s}, predicted "
        f"{item['predicted']!s}; drivers: "
        + (
            ", ".join(f"row {d['row']} ({d['value']:+.3g})" for d in item["drivers"])
            or "none (no nearby row of another label)"
        )
        for item in out[:10]
    ]
    return _emit(args, stdout, "\n".join(lines), _json(out))


def run_sensitivity(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``sensitivity``: the fewest rows that move the validation loss or flip a sign."""
    if not args.loss_increase > 0:
        raise UsageError(f"--loss-increase must be positive, got {args.loss_increase}")
    problem = load_problem(args.train, args.valid, args.label, args.group)
    report = sensitivity_report(
        problem.train, problem.valid, task=problem.task, loss_increase=args.loss_increase
    ).to_dict()
    where = _file_row_of(problem.train)
    for item in [report["loss"], *report["coefficients"]]:
        item["rows"] = [where(row) for row in item["rows"]]
    loss = report["loss"]

    def dropping(item: dict, effect: str) -> str:
        if item["k"] is None:
            return f"no set of rows is predicted to {effect}"
        verdict = "confirmed by refit" if item["confirmed"] else "NOT confirmed by refit"
        return f"dropping {item['k']} rows ({item['share']:.1%}) would {effect}: {verdict}"

    lines = [
        f"sensitivity ({report['model']} on standardised features, {report['n_rows']} rows)",
        f"{loss['name']} {loss['original']:.4g}: "
        + dropping(loss, f"raise it past {loss['threshold']:.4g}"),
    ]
    lines += [
        f"coefficient {item['name']} ({item['estimate']:+.3g}): " + dropping(item, "flip its sign")
        for item in report["coefficients"]
    ]
    return _emit(args, stdout, "\n".join(lines), _json(report))


def run_screen(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``screen``: label flips and backdoor triggers against a reference, and copies."""
    _check_seed(args)
    _check_share(args)
    problem = load_problem(args.upload, args.reference, args.label, None)
    _classification_only(problem, "screen", "LAVA's transport cost uses the classes")
    others = [
        (Path(path).name, load_features(path, problem, label=args.label, labeled=True))
        for path in args.against
    ]
    screens = {
        "label_flips": PoisonScreen(share=args.share, random_state=args.seed),
        "backdoor": PoisonScreen(methods=("lava",), share=args.share, random_state=args.seed),
    }
    out: dict[str, Any] = {"n_rows": problem.train.n_rows, "share": args.share}
    for name, screen in screens.items():
        screen.fit(problem.train, problem.valid)
        out[name] = [
            {
                "row": int(row) + 1,
                "consensus": float(screen.scores_[row]),
                **{method: float(v[row]) for method, v in screen.method_scores_.items()},
            }
            for row in screen.flagged_
        ]
    out["similarity"] = [
        {"file": name, "similarity": dataset_similarity(problem.train.X, X)} for name, X in others
    ]
    # The verdict the platform would reach with its default thresholds (same functions).
    findings, rules = Findings(), ScreeningRules()
    screen_similarity(
        {item["file"]: item["similarity"] for item in out["similarity"]}, rules, findings
    )
    screen_labels(
        problem.train,
        problem.valid,
        rules,
        findings,
        seed=0 if args.seed is None else args.seed,
        columns=list(problem.train.feature_names),
    )
    out["verdict"] = {"held": findings.held, **findings.to_dict()}
    lines = [
        f"screen: {out['n_rows']} rows against {Path(args.reference).name}",
        "label flips (consensus): rows " + _listed([item["row"] for item in out["label_flips"]]),
        "backdoor (LAVA): rows " + _listed([item["row"] for item in out["backdoor"]]),
    ]
    lines += [
        f"similarity to {item['file']}: {item['similarity']:.3f}" for item in out["similarity"]
    ]
    lines += (
        [f"verdict: held — {reason}" for reason in findings.reasons]
        if findings.held
        else ["verdict: passes (nothing to hold it for)"]
    )
    return _emit(args, stdout, "\n".join(lines), _json(out))


RUNNERS: dict[str, Callable[[argparse.Namespace, IO[str], IO[str]], int]] = {
    "value": run_value,
    "quality": run_quality,
    "prune": run_prune,
    "buy-rows": run_buy_rows,
    "rank-pool": run_rank_pool,
    "explain": run_explain,
    "sensitivity": run_sensitivity,
    "screen": run_screen,
}


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
        return RUNNERS[args.command](args, stdout, stderr)
    except (TableError, ValueError) as error:
        message = error.message if isinstance(error, TableError) else str(error)
        stderr.write(f"error: {message}\n")
        return 2
