"""Suite-wide fixtures."""

import pytest


@pytest.fixture(autouse=True)
def _fresh_rate_counts():
    """Rate-limit counts live in the cache (config/throttling.py): each test starts at zero."""
    from django.core.cache import cache

    cache.clear()
