"""Settle one charge to the cent: platform fee, provider payouts and the withheld remainder.

Every mechanism (lift pricing, a Myerson auction payment, a posted price) ends here, so the
conservation identity is enforced in one place::

    charge = sum(payouts) + fee + withheld + refund      (integer cents, exactly)

The fee is taken from the charge first (rounded down). The rest — the provider pool — is split
by exact shares with the largest-remainder method. When the shares sum to less than one (the
replication penalty withheld part of them) the remainder of the pool is a party of the same
split, and goes to the named ``penalty_destination``: back to the consumer as a refund, or to
the platform's replication reserve account. Rounding ties favour providers over that account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from pricing.money import check_cents, fee, largest_remainder

__all__ = [
    "CONSUMER",
    "PENALTY_DESTINATIONS",
    "PLATFORM_RESERVE",
    "Settlement",
    "settle",
]

#: Withheld money goes back to the consumer as a refund (the default).
CONSUMER = "consumer"
#: Withheld money is kept in the platform's ``replication_reserve`` ledger account.
PLATFORM_RESERVE = "platform_reserve"
PENALTY_DESTINATIONS = (CONSUMER, PLATFORM_RESERVE)

Destination = Literal["consumer", "platform_reserve"]


@dataclass(frozen=True)
class Settlement:
    """Where every cent of one charge goes.

    Attributes
    ----------
    charge_cents : int
        The amount captured from the consumer.
    fee_bps : int
        Platform fee rate, basis points.
    fee_cents : int
        Platform fee, ``floor(charge * fee_bps / 10 000)``.
    payouts : dict of str to int
        Cents per provider, in id order.
    withheld_cents : int
        Cents kept in the platform's replication reserve account.
    refund_cents : int
        Cents returned to the consumer.
    penalty_destination : str
        Where the penalty remainder goes: ``"consumer"`` or ``"platform_reserve"``.
    """

    charge_cents: int
    fee_bps: int
    fee_cents: int
    payouts: dict[str, int] = field(default_factory=dict)
    withheld_cents: int = 0
    refund_cents: int = 0
    penalty_destination: str = CONSUMER

    @property
    def pool_cents(self) -> int:
        """The provider pool: the charge less the fee."""
        return self.charge_cents - self.fee_cents

    @property
    def net_charge_cents(self) -> int:
        """What the consumer pays in the end: the charge less the refund."""
        return self.charge_cents - self.refund_cents

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "charge_cents": self.charge_cents,
            "fee_bps": self.fee_bps,
            "fee_cents": self.fee_cents,
            "payouts": dict(self.payouts),
            "withheld_cents": self.withheld_cents,
            "refund_cents": self.refund_cents,
            "penalty_destination": self.penalty_destination,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settlement:
        """Inverse of :meth:`to_dict`."""
        return cls(
            charge_cents=int(data["charge_cents"]),
            fee_bps=int(data["fee_bps"]),
            fee_cents=int(data["fee_cents"]),
            payouts={str(k): int(v) for k, v in data["payouts"].items()},
            withheld_cents=int(data["withheld_cents"]),
            refund_cents=int(data["refund_cents"]),
            penalty_destination=str(data["penalty_destination"]),
        )


def settle(
    charge_cents: int,
    shares: Mapping[str, Fraction],
    *,
    fee_bps: int,
    penalty_destination: Destination = CONSUMER,
) -> Settlement:
    """Split a charge into fee, provider payouts and the withheld remainder.

    Parameters
    ----------
    charge_cents : int
        The amount captured, in cents (>= 0).
    shares : mapping of str to Fraction
        Exact provider shares of the pool, each >= 0, summing to more than 0 and at most 1.
        A sum below 1 means part of the pool is withheld.
    fee_bps : int
        Platform fee in basis points (0..10 000).
    penalty_destination : {"consumer", "platform_reserve"}, default "consumer"
        Who receives the withheld remainder.

    Returns
    -------
    Settlement
    """
    check_cents(charge_cents, "charge_cents")
    if penalty_destination not in PENALTY_DESTINATIONS:
        raise ValueError(f"penalty_destination must be one of {PENALTY_DESTINATIONS}")
    exact = {pid: Fraction(s) for pid, s in shares.items()}
    if any(s < 0 for s in exact.values()):
        raise ValueError("shares must be >= 0")
    total = sum(exact.values(), Fraction(0))
    if not 0 < total <= 1:
        raise ValueError(f"shares must sum to more than 0 and at most 1, got {total}")
    fee_cents = fee(charge_cents, fee_bps)
    pool = charge_cents - fee_cents
    # Tagging keys with 0 for providers and 1 for the withheld account makes rounding ties
    # favour providers and keeps provider ids from ever colliding with the account's name.
    weights: dict[tuple[int, str], Fraction] = {(0, pid): s for pid, s in exact.items()}
    weights[(1, penalty_destination)] = 1 - total
    parts = largest_remainder(pool, weights)
    withheld = parts[(1, penalty_destination)]
    return Settlement(
        charge_cents=charge_cents,
        fee_bps=fee_bps,
        fee_cents=fee_cents,
        payouts={pid: parts[(0, pid)] for pid in sorted(exact)},
        withheld_cents=withheld if penalty_destination == PLATFORM_RESERVE else 0,
        refund_cents=withheld if penalty_destination == CONSUMER else 0,
        penalty_destination=penalty_destination,
    )
