"""A valuation job's parameters (``ValuationJob.spec``): the data it reads, the game it plays,
and how its work is cut into chunks.

Whoever submits a job builds a :class:`JobSpec` (the marketplace's ``task_submit``); the
workers read it (:func:`valuation.data.job_data`, :func:`valuation.methods.build_estimator`).
It is stored as :meth:`JobSpec.to_dict`, with its version; :meth:`JobSpec.from_dict` refuses
unknown keys and another version by name, so a spec that a reader would misread is never run.
Django-free; the model field that stores it is :class:`valuation.models.SpecField`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

DEFAULT_MAX_SAMPLES = 200
DEFAULT_SAMPLES_PER_CHUNK = 10
DEFAULT_COALITIONS_PER_CHUNK = 64
#: Units of the row method per chunk (a unit is 128 fits with the default strata).
DEFAULT_ROW_UNITS_PER_CHUNK = 4


@dataclass(frozen=True)
class PlayerSpec:
    """A player of the game: its name, the stored table of its rows, how many rows."""

    name: str
    path: str
    rows: int = 0


@dataclass(frozen=True)
class JobSpec:
    """What a job values and how (module docstring).

    The data: ``task`` (classification or regression), the ``label`` column and its
    ``label_kind``, the encoded ``features`` (``Column.to_dict`` records), the ``players``,
    the ``valid`` table and an optional ``baseline`` (the consumer's own rows, always in the
    coalition). The game: ``model`` and ``metric``. The methods' options: ``seed`` (pinned by
    a deployment, else drawn per job), ``basis_fits``, ``floor`` and ``copies`` (the row
    method), ``truncation``, ``max_samples``, ``se_threshold`` and ``min_samples`` (sampling
    methods). The chunking: ``samples_per_chunk``, ``coalitions_per_chunk`` and
    ``row_units_per_chunk``.
    """

    VERSION: ClassVar[int] = 1
    #: What names the data a job reads: jobs with the same share one loaded copy.
    DATA_FIELDS: ClassVar[tuple[str, ...]] = (
        "task",
        "label",
        "label_kind",
        "features",
        "players",
        "valid",
        "baseline",
    )

    task: str
    label: str
    label_kind: str
    features: tuple[dict[str, Any], ...]
    players: tuple[PlayerSpec, ...]
    valid: str
    model: str
    metric: str
    baseline: str | None = None
    seed: int | None = None
    basis_fits: int | None = None
    floor: bool = False
    copies: bool = False
    truncation: float | None = None
    max_samples: int = DEFAULT_MAX_SAMPLES
    se_threshold: float | None = None
    min_samples: int = 30
    samples_per_chunk: int = DEFAULT_SAMPLES_PER_CHUNK
    coalitions_per_chunk: int = DEFAULT_COALITIONS_PER_CHUNK
    row_units_per_chunk: int = DEFAULT_ROW_UNITS_PER_CHUNK

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(dict(c) for c in self.features))
        players = tuple(p if isinstance(p, PlayerSpec) else PlayerSpec(**p) for p in self.players)
        object.__setattr__(self, "players", players)

    @property
    def n_rows(self) -> int:
        """Rows of every player together (0 where the players' sizes were not given)."""
        return sum(p.rows for p in self.players)

    @property
    def player_names(self) -> list[str]:
        return [p.name for p in self.players]

    def data(self) -> dict[str, Any]:
        """The part of the spec that names the data (:data:`DATA_FIELDS`), JSON-safe."""
        stored = self.to_dict()
        return {key: stored[key] for key in self.DATA_FIELDS}

    def replace(self, **changes: Any) -> JobSpec:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["features"] = [dict(c) for c in self.features]
        out["players"] = [dataclasses.asdict(p) for p in self.players]
        return {"version": self.VERSION, **out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobSpec:
        """Read a stored spec; a spec stored before the version was written is version 1."""
        data = dict(data)
        version = data.pop("version", 1)
        if version != cls.VERSION:
            raise ValueError(f"a version {version} job spec; this code reads {cls.VERSION}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown job spec keys: {', '.join(unknown)}")
        missing = sorted(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in data
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if missing:
            raise ValueError(f"the job spec lacks {', '.join(missing)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"a job spec player is malformed: {exc}") from None
