"""Fixtures of the contract tests: media in a scratch folder, and the market to talk about."""

import pytest
from django.test import override_settings

from tests.contract.market import market_fixture  # noqa: F401  (``market``, once per module)


@pytest.fixture(scope="module", autouse=True)
def _media_in_tmp(tmp_path_factory):
    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")):
        yield
