"""Annotation pools (active learning): a consumer's unlabeled rows, ranked so the rows worth
labeling come first, re-ranked after every batch of labels.

A pool belongs to one of the consumer's tasks, which supplies everything the ranking needs:
the feature columns (the pool must have exactly those), the label column and its classes,
the validation rows, and the optional baseline (labeled rows the consumer already owns).
The labeled set is the baseline plus the pool rows labeled so far; the engine's
:class:`~valuation.core.acquisition.PoolRanker` orders the whole pool against it and the
ranking keeps only the unlabeled rows.

Value and uncertainty both read a model fitted on the labeled set; with fewer than two
labeled classes there is no such model, so the pool falls back to its seeded random order
until there is, and :func:`pool_note` says so. The seed is derived from the pool's id, so
a re-rank is reproducible and the random order of a pool never reshuffles as rows are
labeled (labeled rows just leave it).
"""

from __future__ import annotations

import io

import numpy as np
from django.db import transaction
from django.db.models import QuerySet

from marketplace.models import LabelPool, Task
from marketplace.services.datasets import read_upload, table_error
from marketplace.services.errors import PermissionDenied, ServiceError
from marketplace.services.storage import files_with_rows
from valuation.core.acquisition import PoolRanker
from valuation.core.dataset import Dataset
from valuation.core.tabular import (
    Encoder,
    Schema,
    TableError,
    infer_schema,
    labels,
    neutralise_formulas,
    read_table,
)

#: What each strategy does, in one line a consumer can act on (shown by the API and the UI).
STRATEGY_EXPLANATIONS = {
    LabelPool.Strategy.VALUE: "Rows whose predicted data value (a forest fitted to the "
    "KNN-Shapley values of your labeled rows) and model uncertainty are highest come first. "
    "In our benchmark it needed more labels than uncertainty sampling to reach the same "
    "accuracy.",
    LabelPool.Strategy.UNCERTAINTY: "Rows the model fitted on your labeled rows is least "
    "sure about come first (least confidence).",
    LabelPool.Strategy.RANDOM: "A seeded random order: the baseline to compare the others with.",
}
FALLBACK_NOTE = (
    "Your labeled rows (your baseline and the labels given so far) hold fewer than two "
    "classes, so there is no model to rank by {strategy} yet: the rows come in this pool's "
    "random order until rows of two classes are labeled."
)
MAX_BATCH = 500
#: Mixed with a pool's id into its seed, so pools do not share random orders with other seeds.
SEED_SALT = 0x9B0C1
PROBE = "__pool_label_probe__"


def pool_list(*, user) -> QuerySet[LabelPool]:
    """A consumer's pools (nobody sees anyone else's)."""
    return LabelPool.objects.filter(consumer=user).select_related("task")


def pool_seed(pool: LabelPool) -> int:
    """The pool's seed: derived from its id, so every re-rank draws the same numbers."""
    return int(np.random.SeedSequence([SEED_SALT, pool.pk]).generate_state(1)[0])


# --- reading the pool's and the task's tables ------------------------------------------------


def _pool_schema(frame, schema: Schema, *, field: str) -> Schema:
    """Check that ``frame`` has exactly the task's feature columns, each of the task's kind,
    and return its schema (a label-free table typed by :func:`infer_schema`)."""
    if schema.label in frame.columns:
        raise ServiceError(
            f"the pool has the label column {schema.label!r}; upload the rows without it "
            "(label them here)",
            field=field,
            column=schema.label,
        )
    wanted = set(schema.feature_names)
    for column in frame.columns:
        if column not in wanted:
            raise ServiceError(
                f"column {column!r} is not a feature of this task; the pool must have exactly "
                f"the task's feature columns ({', '.join(map(repr, schema.feature_names))})",
                field=field,
                column=column,
            )
    for name in schema.feature_names:
        if name not in frame.columns:
            raise ServiceError(
                f"feature column {name!r} is missing from the pool", field=field, column=name
            )
    # infer_schema types feature columns only beside a label; a constant numeric probe
    # (typed as regression, so one value is allowed) stands in for the one the pool lacks.
    try:
        found = infer_schema(
            frame.assign(**{PROBE: 0.0}),
            label=PROBE,
            task="regression",
            features=schema.feature_names,
        )
    except TableError as exc:
        raise table_error(exc, field) from None
    for column in schema.features:
        kind = found.column(column.name).kind
        if kind != column.kind:
            raise ServiceError(
                f"column {column.name!r} is {kind} in the pool; the task's is {column.kind}",
                field=field,
                column=column.name,
            )
    return found


def _read_stored(file) -> object:
    with file.open("rb") as handle:
        return read_table(handle.read(), name=file.name.rsplit("/", 1)[-1])


def pool_frame(pool: LabelPool):
    """The pool's rows as uploaded (a DataFrame, row ``i`` is pool row ``i``)."""
    return _read_stored(pool.pool_file)


# --- ranking ---------------------------------------------------------------------------------


def _label_array(values: list, schema: Schema) -> np.ndarray:
    if schema.task == "regression":
        return np.asarray(values, dtype=np.float64)
    if schema.label_kind == "numeric":
        return np.asarray(values, dtype=np.int64)
    return np.asarray(values, dtype=str)


def _rank(pool: LabelPool, frame, schema: Schema) -> None:
    """Set the pool's ranking and scores from its labels (see the module docstring)."""
    task = pool.task
    valid_frame = _read_stored(task.validation_file)
    base_frame = _read_stored(task.baseline_file) if task.baseline_file else None
    others = [_pool_schema(frame, schema, field="file")]
    if base_frame is not None:
        others.append(infer_schema(base_frame, label=schema.label, features=schema.feature_names))
    encoder = Encoder.for_schemas(schema, others)
    X_pool = encoder.transform(frame)
    rows = sorted(int(r) for r in pool.labels)
    X_labeled = X_pool[rows]
    y_labeled = _label_array([pool.labels[str(r)] for r in rows], schema)
    if base_frame is not None:
        X_labeled = np.vstack([encoder.transform(base_frame), X_labeled])
        y_labeled = np.concatenate([labels(base_frame, schema), y_labeled])
    strategy = pool.strategy
    if strategy != LabelPool.Strategy.RANDOM and np.unique(y_labeled).size < 2:
        strategy = LabelPool.Strategy.RANDOM
    # With nothing labeled only the random order runs: it reads no labels, and fit() only
    # checks the labeled rows' width, which one pool row stands in for.
    labeled = Dataset(X_labeled, y_labeled) if y_labeled.size else Dataset(X_pool[:1], np.zeros(1))
    valid = Dataset(encoder.transform(valid_frame), labels(valid_frame, schema))
    ranker = PoolRanker(strategy=strategy, random_state=pool_seed(pool))
    ranker.fit(labeled, X_pool, valid)
    done = set(rows)
    ranking = [int(r) for r in ranker.ranking_ if int(r) not in done]
    pool.ranking = ranking
    pool.scores = [float(ranker.scores_[r]) for r in ranking]
    pool.ranked_by = strategy


def pool_note(pool: LabelPool) -> str:
    """Why the pool is not (yet) in its strategy's order, or "" when it is."""
    if pool.ranked_by and pool.ranked_by != pool.strategy:
        label = LabelPool.Strategy(pool.strategy).label.lower()
        return FALLBACK_NOTE.format(strategy=label)
    return ""


# --- the services ----------------------------------------------------------------------------


def pool_create(
    *,
    task: Task,
    user,
    upload,
    strategy: str = LabelPool.Strategy.VALUE,
    batch_size: int = 10,
    title: str = "",
) -> LabelPool:
    """Check an unlabeled pool against the task, store it and rank it."""
    if task.consumer_id != user.pk:
        raise PermissionDenied("this is not your task")
    if strategy not in LabelPool.Strategy.values:
        raise ServiceError(f"unknown strategy {strategy!r}", field="strategy")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ServiceError(f"the batch size must be 1 to {MAX_BATCH}", field="batch_size")
    schema = Schema.from_dict(task.schema)
    if schema.task == "regression" and strategy != LabelPool.Strategy.RANDOM:
        raise ServiceError(
            f"the {strategy} strategy ranks by a classifier's uncertainty, and this task "
            "predicts a number; choose random for a regression task",
            field="strategy",
        )
    frame, _, raw = read_upload(upload, field="file")
    _pool_schema(frame, schema, field="file")
    with files_with_rows() as save:
        pool = LabelPool(
            task=task,
            consumer=user,
            title=title,
            n_rows=len(frame),
            strategy=strategy,
            batch_size=batch_size,
        )
        save(pool.pool_file, upload.name, raw)
        pool.save()  # the seed needs the id
        _rank(pool, frame, schema)
        pool.save(update_fields=["ranking", "scores", "ranked_by"])
    return pool


def _clean_label(row: int, label, schema: Schema):
    """A label as it is stored, or a ServiceError naming the row."""
    if schema.task == "regression":
        if isinstance(label, bool) or not isinstance(label, int | float | str):
            raise ServiceError(f"row {row}: the label must be a number", field="labels")
        try:
            value = float(label)
        except ValueError:
            raise ServiceError(
                f"row {row}: the label {label!r} is not a number", field="labels"
            ) from None
        if not np.isfinite(value):
            raise ServiceError(f"row {row}: the label must be finite", field="labels")
        return value
    classes = [str(c) for c in schema.classes]
    text = str(label) if isinstance(label, int | str) and not isinstance(label, bool) else None
    if isinstance(label, float) and label.is_integer():
        text = str(int(label))
    if text is None or text.strip() not in classes:
        raise ServiceError(
            f"row {row}: {label!r} is not a class of this task; the classes are "
            f"{', '.join(classes)}",
            field="labels",
        )
    text = text.strip()
    return int(text) if schema.label_kind == "numeric" else text


def pool_label(*, pool: LabelPool, user, labels: dict[int, object]) -> LabelPool:
    """Store labels for unlabeled rows, re-rank the rest, count the round.

    The pool row is locked for the whole update, so two submissions of the same rows at once
    cannot both pass the "not yet labeled" check: the second sees the first's labels.
    """
    if pool.consumer_id != user.pk:
        raise PermissionDenied("this is not your pool")
    if not labels:
        raise ServiceError("give at least one label", field="labels")
    with transaction.atomic():
        pool = LabelPool.objects.select_for_update().select_related("task").get(pk=pool.pk)
        schema = Schema.from_dict(pool.task.schema)
        cleaned = {}
        for row, label in sorted(labels.items()):
            if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < pool.n_rows:
                raise ServiceError(
                    f"row {row} is not in the pool (rows are 0 to {pool.n_rows - 1})",
                    field="labels",
                )
            if str(row) in pool.labels:
                raise ServiceError(f"row {row} is already labeled", field="labels")
            cleaned[str(row)] = _clean_label(row, label, schema)
        pool.labels = {**pool.labels, **cleaned}
        _rank(pool, pool_frame(pool), schema)
        pool.rounds += 1
        pool.save(
            update_fields=["labels", "ranking", "scores", "ranked_by", "rounds", "updated_at"]
        )
    return pool


def pool_next_batch(pool: LabelPool, frame=None) -> list[dict]:
    """The rows to label next: the first ``batch_size`` of the ranking, each with its row
    number, its score and its feature values (the consumer's own data)."""
    rows = pool.ranking[: pool.batch_size]
    if not rows:
        return []
    frame = pool_frame(pool) if frame is None else frame
    values = frame.iloc[rows].to_dict(orient="records")  # native Python scalars
    return [
        {"row": row, "score": score, "values": cells}
        for row, score, cells in zip(rows, pool.scores, values, strict=False)
    ]


def pool_export(pool: LabelPool) -> bytes:
    """The labeled rows as CSV: the pool's columns and the task's label column, in row order.
    A file we write, not one we promised byte for byte, so its spreadsheet formula cells are
    always neutralised (:func:`~valuation.core.tabular.neutralise_formulas`)."""
    frame = pool_frame(pool)
    rows = sorted(int(r) for r in pool.labels)
    labeled = frame.iloc[rows].copy()
    labeled[pool.task.label_column] = [pool.labels[str(r)] for r in rows]
    buffer = io.StringIO()
    labeled.to_csv(buffer, index=False)
    return neutralise_formulas(buffer.getvalue().encode())
