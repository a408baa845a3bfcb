"""What :func:`~valuation.core.insights.buyer_insights` reports, as typed, versioned records.

Every training row a report names is a :class:`RowRef` — a misprediction's drivers, the rows a
sensitivity finding rests on, the suspect rows — so whoever renames or hides rows does it with
:func:`map_rows`, which reaches every :class:`RowRef` in whatever section holds it: a section
added later is covered without naming it.

:meth:`InsightReport.to_dict` is JSON-safe and carries :attr:`InsightReport.VERSION`;
:meth:`InsightReport.from_dict` refuses another or a missing version, unknown keys, missing
keys and values of the wrong type, each by name, so a stored report a reader would misread is
never read. Records (:mod:`valuation.core.records`) are read and written field by field from
their annotations, so a section added later is stored and read without code of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from valuation.core.records import Record, Versioned

#: Who a row belongs to: a source's name in the engine, a dataset id once a market names it;
#: None for an ungrouped row or the reader's own.
Player = str | int | None
#: A label as a report writes it (a numpy scalar becomes the matching Python scalar).
Label = bool | int | float | str

#: What a row reference tells of its row beyond who owns it: what a reader who may not see
#: the row is not shown (:meth:`RowRef.hidden`).
ROW_CONTENT = ("row", "label")

R = TypeVar("R")


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
class InsightReport(Versioned):
    """Everything :func:`~valuation.core.insights.buyer_insights` tells a buyer but the
    per-row arrays: what to drop (``prune``), why the model errs (``debug``), how fragile
    its conclusions are (``sensitivity``), what each source's rows are worth (``rows``);
    ``looked_at`` are the candidate sources debugging and sensitivity looked at (besides
    the buyer's own), ``metric`` the scorer (None: the model's own score) and
    ``suspect_share`` the share of rows that are suspects."""

    #: The layout of :meth:`to_dict`; a stored report of another layout is migrated.
    VERSION: ClassVar[int] = 2
    KIND: ClassVar[str] = "an insight report"

    metric: str | None
    suspect_share: float
    looked_at: tuple[str | int, ...]
    prune: Prune
    debug: Debug
    sensitivity: Sensitivity
    rows: RowValues


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
