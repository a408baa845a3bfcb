"""Fixtures of the contract tests: the market they talk about."""

import pytest


@pytest.fixture
def market(contract_market):
    """The contract tests' market (tests/support/contract_market.py), once per module."""
    return contract_market
