"""Games whose Shapley values are known exactly, to anchor the estimators' tests.

Each game's ``shapley_values()`` returns exact fractions computed by a closed form or a
counting argument that never enumerates coalitions the way the estimators do, so the two
are independent checks of each other.

* :func:`three_player_game` — the utility table of algorithms.md §1.9 (with its LOO values);
* :class:`WeightedVotingGame` — U(S) = 1 when the weights of S reach the quota;
* :class:`AirportGame` — U(S) = the largest cost in S (Littlechild–Owen cost shares);
* :class:`GloveGame` — U(S) = number of matched left/right pairs in S;
* :class:`AdditiveGame` — U(S) = Σ of the players' own worths.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from math import comb, factorial

from valuation.core.game import Game, UtilityCache, coalition_mask

Number = int | float | Fraction


class TableGame(Game):
    """A game given by an explicit utility table.

    Parameters
    ----------
    table : mapping
        Coalition (any iterable of player indices) → utility. Every coalition a method asks
        for must be present.
    n_players : int
        Number of players.
    names : sequence of str, optional
        Player names.
    cache : UtilityCache, optional
        See :class:`~valuation.core.game.Game`.
    """

    def __init__(
        self,
        table: Mapping[Iterable[int], Number],
        n_players: int,
        names: Sequence[str] | None = None,
        cache: UtilityCache | None = None,
    ) -> None:
        super().__init__(n_players, names, cache)
        self.table = {coalition_mask(key): float(value) for key, value in table.items()}

    def _evaluate(self, players: tuple[int, ...]) -> float:
        mask = coalition_mask(players)
        if mask not in self.table:
            raise ValueError(f"the utility table has no entry for coalition {players}")
        return self.table[mask]


class ThreePlayerTableGame(TableGame):
    """The 3-player table of algorithms.md §1.9: players 0 and 1 symmetric, player 2 null.

    U(∅)=0, U{0}=U{1}=1/2, U{2}=0, U{0,1}=7/10, U{0,2}=U{1,2}=1/2, U{0,1,2}=7/10.
    """

    def __init__(self, cache: UtilityCache | None = None) -> None:
        half, seven_tenths = Fraction(1, 2), Fraction(7, 10)
        table = {
            (): 0,
            (0,): half,
            (1,): half,
            (2,): 0,
            (0, 1): seven_tenths,
            (0, 2): half,
            (1, 2): half,
            (0, 1, 2): seven_tenths,
        }
        super().__init__(table, 3, cache=cache)

    @staticmethod
    def shapley_values() -> tuple[Fraction, ...]:
        """(7/20, 7/20, 0)."""
        return (Fraction(7, 20), Fraction(7, 20), Fraction(0))

    @staticmethod
    def loo_values() -> tuple[Fraction, ...]:
        """Leave-one-out U(N) − U(N∖i): (1/5, 1/5, 0)."""
        return (Fraction(1, 5), Fraction(1, 5), Fraction(0))


def three_player_game(cache: UtilityCache | None = None) -> ThreePlayerTableGame:
    """The 3-player table game of algorithms.md §1.9 (oracle O1)."""
    return ThreePlayerTableGame(cache)


class WeightedVotingGame(Game):
    """U(S) = 1 if the players of S together weigh at least ``quota``, else 0.

    Shapley values (the Shapley–Shubik power index) and Banzhaf values are counted exactly
    by dynamic programming over (coalition size, total weight), not by enumeration.

    Parameters
    ----------
    weights : sequence of int
        Non-negative integer weight of every player.
    quota : int
        Weight a coalition needs to win, at least 1.
    """

    def __init__(
        self, weights: Sequence[int], quota: int, cache: UtilityCache | None = None
    ) -> None:
        super().__init__(len(weights), cache=cache)
        self.weights = tuple(int(w) for w in weights)
        if any(w < 0 for w in self.weights) or quota < 1:
            raise ValueError("weights must be non-negative and the quota at least 1")
        self.quota = int(quota)

    def _evaluate(self, players: tuple[int, ...]) -> float:
        return 1.0 if sum(self.weights[p] for p in players) >= self.quota else 0.0

    def _swings_by_size(self, player: int) -> list[int]:
        """Number of coalitions of the other players, by size, that ``player`` turns winning."""
        others = [w for i, w in enumerate(self.weights) if i != player]
        # ways[s][w]: coalitions of the other players with s members and total weight w
        # (weights above the quota are lumped together, they all win anyway).
        cap = self.quota
        ways = [[0] * (cap + 1) for _ in range(len(others) + 1)]
        ways[0][0] = 1
        for weight in others:
            for size in range(len(others) - 1, -1, -1):
                for total in range(cap, -1, -1):
                    if ways[size][total]:
                        ways[size + 1][min(cap, total + weight)] += ways[size][total]
        low = max(0, self.quota - self.weights[player])
        return [sum(row[low : self.quota]) for row in ways]

    def shapley_values(self) -> tuple[Fraction, ...]:
        """Exact Shapley–Shubik indices."""
        n = self.n_players
        return tuple(
            sum(
                (
                    Fraction(count * factorial(size) * factorial(n - 1 - size), factorial(n))
                    for size, count in enumerate(self._swings_by_size(i))
                ),
                Fraction(0),
            )
            for i in range(n)
        )

    def banzhaf_values(self) -> tuple[Fraction, ...]:
        """Exact (non-normalised) Banzhaf values: swings / 2^(n−1)."""
        scale = 2 ** (self.n_players - 1)
        return tuple(Fraction(sum(self._swings_by_size(i)), scale) for i in range(self.n_players))


class AirportGame(Game):
    """U(S) = the largest cost among S's players (0 for ∅): the runway S needs.

    Its Shapley values are the Littlechild–Owen cost shares: sort costs
    c(1) ≤ … ≤ c(n); the k-th cheapest player pays Σ_{j≤k} (c(j) − c(j−1)) / (n − j + 1),
    every runway segment being split equally among the players who use it.

    Parameters
    ----------
    costs : sequence of numbers
        Non-negative cost of every player (floats are taken exactly as binary fractions).
    """

    def __init__(self, costs: Sequence[Number], cache: UtilityCache | None = None) -> None:
        super().__init__(len(costs), cache=cache)
        self.costs = tuple(Fraction(c) for c in costs)
        if any(c < 0 for c in self.costs):
            raise ValueError("airport costs must be non-negative")

    def _evaluate(self, players: tuple[int, ...]) -> float:
        return float(max((self.costs[p] for p in players), default=Fraction(0)))

    def shapley_values(self) -> tuple[Fraction, ...]:
        """Exact Littlechild–Owen cost shares."""
        n = self.n_players
        order = sorted(range(n), key=lambda p: self.costs[p])
        shares = [Fraction(0)] * n
        paid, previous = Fraction(0), Fraction(0)
        for j, player in enumerate(order):
            paid += (self.costs[player] - previous) / (n - j)
            previous = self.costs[player]
            shares[player] = paid
        return tuple(shares)


class GloveGame(Game):
    """U(S) = min(left gloves in S, right gloves in S): the pairs S can sell.

    Players ``0 .. n_left-1`` hold a left glove, the next ``n_right`` a right glove. A left
    glove's Shapley value is the probability that, in a random order, it arrives when its
    predecessors hold fewer left than right gloves — a hypergeometric sum over the number of
    predecessors of each kind.

    Parameters
    ----------
    n_left, n_right : int
        Numbers of left and right gloves (players), at least 1 in total.
    """

    def __init__(self, n_left: int, n_right: int, cache: UtilityCache | None = None) -> None:
        super().__init__(n_left + n_right, cache=cache)
        self.n_left = int(n_left)
        self.n_right = int(n_right)

    def _evaluate(self, players: tuple[int, ...]) -> float:
        left = sum(1 for p in players if p < self.n_left)
        return float(min(left, len(players) - left))

    def _value_of(self, same: int, other: int) -> Fraction:
        """Shapley value of a glove with ``same`` gloves of its kind and ``other`` opposite."""
        n = same + other
        total = Fraction(0)
        for a in range(same):  # predecessors of the same kind (excluding itself)
            for b in range(a + 1, other + 1):  # strictly more opposite gloves: a new pair
                total += Fraction(comb(same - 1, a) * comb(other, b), comb(n - 1, a + b))
        return total / n

    def shapley_values(self) -> tuple[Fraction, ...]:
        """Exact values: left gloves first, then right gloves."""
        left = self._value_of(self.n_left, self.n_right) if self.n_left else Fraction(0)
        right = self._value_of(self.n_right, self.n_left) if self.n_right else Fraction(0)
        return (left,) * self.n_left + (right,) * self.n_right


class AdditiveGame(Game):
    """U(S) = Σ_{i∈S} worth_i: every semivalue and LOO of player i is worth_i.

    Parameters
    ----------
    worths : sequence of numbers
        Each player's stand-alone worth (floats are taken exactly as binary fractions).
    """

    def __init__(self, worths: Sequence[Number], cache: UtilityCache | None = None) -> None:
        super().__init__(len(worths), cache=cache)
        self.worths = tuple(Fraction(w) for w in worths)

    def _evaluate(self, players: tuple[int, ...]) -> float:
        return float(sum((self.worths[p] for p in players), Fraction(0)))

    def shapley_values(self) -> tuple[Fraction, ...]:
        """The worths themselves."""
        return self.worths

    def banzhaf_values(self) -> tuple[Fraction, ...]:
        """The worths themselves."""
        return self.worths
