"""What :func:`~valuation.core.insights.buyer_insights` reports, as typed, versioned records.

Every training row a report names is a :class:`RowRef` — a misprediction's drivers, the rows a
sensitivity finding rests on, the suspect rows — so whoever renames or hides rows does it with
:func:`map_rows`, which reaches every :class:`RowRef` in whatever section holds it: a section
added later is covered without naming it.

:meth:`InsightReport.to_dict` is JSON-safe and carries :attr:`InsightReport.VERSION`;
:meth:`InsightReport.from_dict` refuses another or a missing version, unknown keys, missing
keys and values of the wrong type, each by name, so a stored report a reader would misread is
never read. Records are read and written field by field from their annotations (records,
tuples and str-keyed dicts of them, optional values and scalars), so a section added later
is stored and read without code of its own.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

#: Who a row belongs to: a source's name in the engine, a dataset id once a market names it;
#: None for an ungrouped row or the reader's own.
Player = str | int | None
#: A label as a report writes it (a numpy scalar becomes the matching Python scalar).
Label = bool | int | float | str

#: What a row reference tells of its row beyond who owns it: what a reader who may not see
#: the row is not shown (:meth:`RowRef.hidden`).
ROW_CONTENT = ("row", "label")

R = TypeVar("R")


class Record:
    """A frozen dataclass written as a dict of its fields and read back by their types."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict, one key per field."""
        return {f.name: _dump(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`; a ValueError names any key or value it cannot read."""
        return _load(cls, data, cls.__name__)


@dataclass(frozen=True)
class RowRef(Record):
    """A training row: its ``player`` and its 0-based position ``row`` within that player
    (within the training set when rows are not grouped), and what a report says of it:
    its ``label`` and its ``value``. ``row`` and ``label`` are None when hidden."""

    player: Player
    row: int | None
    label: Label | None = None
    value: float | None = None

    def hidden(self) -> RowRef:
        """The reference without its content (:data:`ROW_CONTENT`), only who owns it."""
        return dataclasses.replace(self, **dict.fromkeys(ROW_CONTENT))


@dataclass(frozen=True)
class Removal(Record):
    """What refitting without some rows measured: the metric before and after, the change
    and its 95% paired-bootstrap interval; ``suggested`` when the interval's lower end is
    above 0 (a change within the noise of the validation rows is no reason to drop data)."""

    score_before: float
    score_after: float
    change: float
    change_lower: float
    change_upper: float
    suggested: bool


@dataclass(frozen=True)
class SourceRemoval(Removal):
    """Dropping one candidate ``source`` (its ``rows`` rows); ``title`` is what a reader
    who knows the source calls it."""

    source: str | int
    rows: int
    title: str = ""


@dataclass(frozen=True)
class SuspectRemoval(Removal):
    """Dropping the suspect rows: the lowest-valued ``count`` of the ``examined`` rows (of
    ``training_rows``), each a :class:`RowRef`."""

    count: int
    examined: int
    training_rows: int
    rows: tuple[RowRef, ...]

    def by_player(self) -> dict[Player, list[RowRef]]:
        """The suspect rows of each player, players in order of their first suspect."""
        out: dict[Player, list[RowRef]] = {}
        for ref in self.rows:
            out.setdefault(ref.player, []).append(ref)
        return out


@dataclass(frozen=True)
class Prune(Record):
    """What to drop: each candidate source, largest change first, and the suspect rows;
    ``score`` is the metric with every row."""

    score: float
    sources: tuple[SourceRemoval, ...]
    suspects: SuspectRemoval


@dataclass(frozen=True)
class Misprediction(Record):
    """A validation row the model gets wrong, with the training rows that pulled it away
    from its true ``label`` (``drivers``, most negative ``value`` first)."""

    valid_row: int
    label: Label
    predicted: Label
    drivers: tuple[RowRef, ...]


@dataclass(frozen=True)
class Debug(Record):
    """The explained mispredictions among ``n_valid`` validation rows; ``error`` says why
    there are none to explain ("" when there are)."""

    points: tuple[Misprediction, ...] = ()
    n_valid: int = 0
    error: str = ""


@dataclass(frozen=True)
class Finding(Record):
    """A conclusion of the surrogate and the fewest rows (``k``, ``share`` of them, the
    ``rows``) whose removal is predicted to overturn it, with the ``refit`` value and
    whether it ``confirmed`` the prediction. ``k`` is None when no such set was found;
    ``refit`` and ``confirmed`` are None then, or when the refit is singular."""

    name: str
    k: int | None
    share: float | None
    refit: float | None
    confirmed: bool | None
    rows: tuple[RowRef, ...]


@dataclass(frozen=True)
class LossFinding(Finding):
    """The validation loss (``original``) pushed past ``threshold``."""

    original: float
    threshold: float


@dataclass(frozen=True)
class CoefficientFinding(Finding):
    """A coefficient's sign flipped; ``estimate`` is per standard deviation of its feature."""

    estimate: float


@dataclass(frozen=True)
class Sensitivity(Record):
    """How few of ``n_rows`` training rows the linear surrogate ``model``'s conclusions
    rest on (:func:`~valuation.core.debugging.sensitivity_report`); ``error`` says why
    there is no analysis ("" when there is)."""

    model: str = ""
    n_rows: int = 0
    loss: LossFinding | None = None
    coefficients: tuple[CoefficientFinding, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class RowSummary(Record):
    """One candidate source's rows: how many, how many have a positive value, the sum of
    their values; ``title`` as for :class:`SourceRemoval`."""

    source: str | int
    rows: int
    positive_rows: int
    value_sum: float
    title: str = ""


@dataclass(frozen=True)
class RowValues(Record):
    """The rows of each candidate source, valued by KNN-Shapley with ``k`` neighbours."""

    k: int
    by_source: tuple[RowSummary, ...]


@dataclass(frozen=True)
class InsightReport(Record):
    """Everything :func:`~valuation.core.insights.buyer_insights` tells a buyer but the
    per-row arrays: what to drop (``prune``), why the model errs (``debug``), how fragile
    its conclusions are (``sensitivity``), what each source's rows are worth (``rows``);
    ``looked_at`` are the candidate sources debugging and sensitivity looked at (besides
    the buyer's own), ``metric`` the scorer (None: the model's own score) and
    ``suspect_share`` the share of rows that are suspects."""

    #: The layout of :meth:`to_dict`; a stored report of another layout is migrated.
    VERSION: ClassVar[int] = 2

    metric: str | None
    suspect_share: float
    looked_at: tuple[str | int, ...]
    prune: Prune
    debug: Debug
    sensitivity: Sensitivity
    rows: RowValues

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.VERSION, **super().to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read a stored report; refuses another or a missing version (see the module)."""
        data = dict(data)
        version = data.pop("version", None)
        if version != cls.VERSION:
            raise ValueError(f"an insight report of version {version}; this reads {cls.VERSION}")
        return super().from_dict(data)


def map_rows(record: R, change: Callable[[RowRef], RowRef]) -> R:
    """``record`` (a record, or a tuple, list or dict of them) with every :class:`RowRef` in
    it, at any depth, replaced by ``change(ref)``: the one walk that renames or hides the
    rows a report names, whatever section holds them."""
    if isinstance(record, RowRef):
        return change(record)
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        changed = {
            f.name: map_rows(getattr(record, f.name), change) for f in dataclasses.fields(record)
        }
        return dataclasses.replace(record, **changed)
    if isinstance(record, tuple | list):
        return type(record)(map_rows(item, change) for item in record)
    if isinstance(record, dict):
        return {key: map_rows(value, change) for key, value in record.items()}
    return record


def _dump(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_dump(item) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    return value


def _load(cls: type[R], data: Any, where: str) -> R:
    """A record of ``cls`` from its dict, every field read by its annotation."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be an object, not {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown keys of {where}: {', '.join(unknown)}")
    missing = sorted(
        name
        for name, f in fields.items()
        if name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    hints = _hints(cls)
    return cls(**{name: _value(hints[name], data[name], f"{where}.{name}") for name in data})


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a record class (a report holds thousands of records)."""
    return typing.get_type_hints(cls)


def _value(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Record):
        return _load(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where} must be a list, not {type(value).__name__}")
        return tuple(_value(args[0], item, f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
            raise ValueError(f"{where} must be an object, not {value!r}")
        return {key: _value(args[1], item, f"{where}[{key!r}]") for key, item in value.items()}
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        choices = [arg for arg in args if arg is not type(None)]
        if len(choices) == 1:
            return _value(choices[0], value, where)
        if any(_is(arg, value) for arg in choices):
            return value
    elif _is(hint, value):
        return value
    raise ValueError(f"{where} cannot be {value!r}")


def _is(kind: type, value: Any) -> bool:
    """Whether ``value`` is a ``kind`` as JSON writes it: an int is a float, a bool is
    neither an int nor a float."""
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)
