"""A quote's explanation: one line per number, keyed by what the line explains.

A reader (the task page, the CLI, an API client) picks lines by :attr:`Line.kind` and
:attr:`Line.provider` and reads the numbers a line quotes from :attr:`Line.numbers`; it never
reads the wording, which may change freely. The sentence a person reads is
``f"{heading}: {text}"`` (:attr:`Line.sentence`); a page that shows the line beside the
number it explains (a provider's row, say) shows only ``text``.

Money in ``text`` is written as ``"1,234 cents"``; a page may rewrite it as currency. In the
lines of :data:`ALL_AMOUNTS` every bare number is an amount of cents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: What a line explains. Lines of the kinds in :data:`PER_PROVIDER` name one ``provider``.
KINDS = {
    "left_out": "a candidate left out of the bundle, and why",
    "provider": "a provider's share of the pool and its payout",
    "bundle": "which providers' data is offered",
    "lift": "the offered bundle's lift over the consumer's baseline, with its interval",
    "worth": "what the confident lift is worth at the consumer's value per point",
    "price": "the charge, and whether the budget capped it",
    "fee": "the platform fee",
    "pool": "what is left for the providers, and how it is split to the cent",
    "split": "what the shares are sums of (the payout basis)",
    "refund": "money the replication penalty returns to the consumer",
    "withheld": "money the replication penalty keeps in the platform's reserve",
    "check": "the charge equals payouts + fee + reserve + refund",
    "no_sale": "why nothing is offered",
    "not_offered": "candidates set aside because a smaller bundle scores confidently higher",
    "note": "a remark of an older quote that explains no one number",
}
#: Kinds whose line is about one provider (``Line.provider`` is its id).
PER_PROVIDER = frozenset({"left_out", "provider"})
#: Kinds whose every bare number in ``text`` is an amount of cents.
ALL_AMOUNTS = frozenset({"pool", "check"})

Number = int | float


@dataclass(frozen=True)
class Line:
    """One line of a quote's explanation (see the module docstring)."""

    kind: str
    heading: str
    text: str
    provider: str | None = None
    numbers: Mapping[str, Number] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown explanation line kind {self.kind!r}")
        if (self.provider is not None) != (self.kind in PER_PROVIDER):
            raise ValueError(f"a {self.kind!r} line names a provider iff it is about one")

    @property
    def sentence(self) -> str:
        return f"{self.heading}: {self.text}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "provider": self.provider,
            "heading": self.heading,
            "text": self.text,
            "numbers": dict(self.numbers),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Line:
        return cls(
            kind=str(data["kind"]),
            heading=str(data["heading"]),
            text=str(data["text"]),
            provider=None if data["provider"] is None else str(data["provider"]),
            numbers=dict(data["numbers"]),
        )
