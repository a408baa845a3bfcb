"""A row-level offer: which rows of each dataset are offered, what they cost, and where the
money goes — what a row purchase buys.

The market makes it (``marketplace.services.insights.task_row_offer``) and stores it as
:meth:`RowOffer.to_dict`, with its version; :meth:`RowOffer.from_dict` refuses another or a
missing version and unknown keys by name, so a purchase never buys from an offer it misread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pricing.settlement import Settlement


@dataclass(frozen=True)
class RowOffer:
    """The offer (module docstring).

    Attributes
    ----------
    budget_cents : int
        The budget the rows were chosen within.
    rows : dict of str to tuple of int
        Dataset id → the offered rows, 0-based positions in its file, ascending.
    value : float
        Sum of the offered rows' values.
    price_cents : int
        Sum of their prices: the charge.
    row_cents : dict of str to int
        Dataset id → what its offered rows cost.
    settlement : Settlement or None
        Fee and payouts, exact to the cent; None when no row fits the budget.
    key : str
        Names the offer: a purchase quoting another key was made against an older offer.
    """

    VERSION: ClassVar[int] = 2

    budget_cents: int
    rows: dict[str, tuple[int, ...]]
    value: float
    price_cents: int
    row_cents: dict[str, int]
    settlement: Settlement | None
    key: str

    @property
    def n_rows(self) -> int:
        """How many rows are offered, of every dataset."""
        return sum(len(rows) for rows in self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "version": self.VERSION,
            "budget_cents": self.budget_cents,
            "rows": {dataset: list(rows) for dataset, rows in self.rows.items()},
            "value": self.value,
            "price_cents": self.price_cents,
            "row_cents": dict(self.row_cents),
            "settlement": None if self.settlement is None else self.settlement.to_dict(),
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RowOffer:
        """Inverse of :meth:`to_dict`; refuses another version, unknown and missing keys."""
        data = dict(data)
        version = data.pop("version", None)
        if version != cls.VERSION:
            raise ValueError(f"a row offer of version {version}; this reads {cls.VERSION}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown, missing = sorted(set(data) - names), sorted(names - set(data))
        if unknown or missing:
            raise ValueError(
                f"a row offer with unknown keys {unknown} and without {missing}; "
                f"this reads {sorted(names)}"
            )
        settlement = data["settlement"]
        return cls(
            budget_cents=int(data["budget_cents"]),
            rows={str(d): tuple(int(r) for r in rows) for d, rows in data["rows"].items()},
            value=float(data["value"]),
            price_cents=int(data["price_cents"]),
            row_cents={str(d): int(c) for d, c in data["row_cents"].items()},
            settlement=None if settlement is None else Settlement.from_dict(settlement),
            key=str(data["key"]),
        )
