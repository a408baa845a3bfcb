"""The estimator contract, over every method of the registry (``valuation.cli.METHODS``).

scikit-learn's habits (shared/STYLE.md) and the engine's contract (shared/DESIGN.md §3):
``clone`` gives equal parameters, ``get_params`` → ``set_params`` is a round trip, ``fit``
returns ``self``, the same seed gives the same values (on a clone and on a refit), and one
chunk of every unit reduces to what ``fit`` found. Each entry is built as the command line
builds it, for a small game and — where an entry picks another estimator for large games —
for a large one, so a method added to the registry is checked here without a new line.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification

import valuation.core.methods as methods
from valuation.cli import EVALUATIONS_PER_PLAYER, METHODS, Settings
from valuation.core import Dataset
from valuation.core.catalog import DEFAULT_METRIC, DEFAULT_MODEL, make_model

TASK = "classification"
SEED = 3
#: Players of the small game, and of a large one: the registry picks sampling estimators
#: above 12 players (Banzhaf, least core).
SMALL, LARGE = 4, 13


def _data(n_players: int, seed: int = 0) -> tuple[Dataset, Dataset]:
    X, y = make_classification(
        n_samples=60, n_features=4, n_informative=3, n_redundant=0, random_state=seed
    )
    groups = np.arange(40) % n_players
    return Dataset(X[:40], y[:40], groups=groups), Dataset(X[40:], y[40:])


def _build(name: str, n_players: int) -> Any:
    settings = Settings(
        model=make_model(DEFAULT_MODEL[TASK], TASK),
        metric=DEFAULT_METRIC[TASK],
        seed=SEED,
        # The command line's budget for the small game, for both: fits are what take time.
        budget=EVALUATIONS_PER_PLAYER * SMALL,
        n_players=n_players,
        task=TASK,
        progress=lambda fraction, info: None,
    )
    return METHODS[name].build(settings)


def _mode(est: Any) -> tuple[type, frozenset[str]]:
    """The estimator's class and which of its parameters are set (not None)."""
    params = est.get_params(deep=False)
    return type(est), frozenset(key for key, value in params.items() if value is not None)


def _cases() -> list[Any]:
    """Every registry entry for the small game, and for the large one where the entry picks
    another estimator or another mode of it (e.g. the least core sampled, not exact)."""
    cases = []
    for name in METHODS:
        small = _build(name, SMALL)
        cases.append(pytest.param(name, SMALL, id=f"{name}-{type(small).__name__}"))
        large = _build(name, LARGE)
        if _mode(large) != _mode(small):
            cases.append(pytest.param(name, LARGE, id=f"{name}-{type(large).__name__}-large"))
    return cases


def _described(value: Any) -> Any:
    """A comparable description of a parameter: estimators by their own parameters,
    everything else by ``repr`` (stopping rules and callables have no ``==`` of value)."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        params = value.get_params(deep=False)
        return type(value), {key: _described(item) for key, item in params.items()}
    return repr(value)


def _assert_same_result(a, b, rtol: float = 0.0) -> None:
    np.testing.assert_array_equal(a.names, b.names)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_allclose(a.values, b.values, rtol=rtol, atol=1e-12 if rtol else 0.0)
    np.testing.assert_allclose(a.stderr, b.stderr, rtol=max(rtol, 1e-9), atol=1e-12)


@pytest.mark.parametrize(("name", "n_players"), _cases())
def test_clone_gives_equal_parameters(name, n_players):
    est = _build(name, n_players)
    twin = clone(est)
    assert type(twin) is type(est) and twin is not est
    assert _described(twin) == _described(est)


@pytest.mark.parametrize(("name", "n_players"), _cases())
def test_get_params_set_params_round_trip(name, n_players):
    est = _build(name, n_players)
    before = _described(est)
    params = est.get_params()
    assert set(est.get_params(deep=False)) == set(inspect.signature(type(est)).parameters)
    assert est.set_params(**params) is est
    assert _described(est) == before
    assert _described(type(est)(**est.get_params(deep=False))) == before


@pytest.mark.parametrize(("name", "n_players"), _cases())
def test_fit_returns_self_and_the_same_seed_gives_the_same_values(name, n_players):
    train, valid = _data(n_players)
    est = _build(name, n_players)
    twin = clone(est)
    params = _described(est)
    assert est.fit(train, valid) is est
    assert _described(est) == params, "fit changed a parameter"
    first = est.result_
    assert first.n_players == train.n_players
    np.testing.assert_array_equal(first.names, train.player_names)
    assert isinstance(est.n_utility_evaluations_, int | np.integer)
    assert est.n_utility_evaluations_ >= 0
    _assert_same_result(twin.fit(train, valid).result_, first)
    # A refit forgets the previous fit, even one on other data.
    est.fit(*_data(n_players, seed=1))
    _assert_same_result(est.fit(train, valid).result_, first)


@pytest.mark.parametrize(("name", "n_players"), _cases())
def test_one_chunk_of_every_unit_reduces_to_the_fit(name, n_players):
    train, valid = _data(n_players)
    est = _build(name, n_players)
    fitted = clone(est).fit(train, valid)
    units = est.n_units(train, valid)
    if units is None:  # unbounded samples: as many as the fit drew
        units = fitted.n_samples_
    assert isinstance(units, int | np.integer) and units >= 1
    partial = est.fit_chunk(train, valid, start=0, stop=units)
    _assert_same_result(est.reduce(partial), fitted.result_, rtol=1e-12)


def test_the_registry_reaches_every_method():
    """A method class the registry cannot build escapes the contract: register it."""
    reached = {type(_build(name, n)) for name in METHODS for n in (SMALL, LARGE)}
    defined = {
        cls
        for cls in vars(methods).values()
        if inspect.isclass(cls) and hasattr(cls, "method_name") and not inspect.isabstract(cls)
    }
    assert defined - reached == set()


@pytest.mark.parametrize(("name", "n_players"), _cases())
def test_validation_rows_of_another_width_are_refused_by_name(name, n_players):
    train, valid = _data(n_players)
    narrow = Dataset(valid.X[:, :3], valid.y)
    with pytest.raises(ValueError, match="valid has 3 feature columns but train has 4"):
        _build(name, n_players).fit(train, narrow)
