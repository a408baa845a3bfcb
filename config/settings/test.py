"""Test settings: the suite runs on SQLite by default and on PostgreSQL/Redis when the
environment names them (``.ci/run`` does, with ``REQUIRE_SERVICES=1``)."""

from config.env import env_bool
from config.settings.base import *  # noqa: F403

DEBUG = False
REQUIRE_SERVICES = env_bool("REQUIRE_SERVICES", False)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Every market fixture screens its uploads and many tests compute insights: the detectors'
# costliest part runs with fewer bags (the same code; the engine's own tests use 100).
DATAFAIR_DETECTOR_BAGS = 25
# The payout basis measures every candidate row: a few units (the same estimator and
# chunking; the benchmarks measure its precision at the default budget), drawn with one
# seed so that a test's market gets the same values on every run.
DATAFAIR_VALUATION = {  # noqa: F405
    **DATAFAIR_VALUATION,  # noqa: F405
    "basis_fits": 512,
    "row_units_per_chunk": 2,
    "seed": 20261203,
}
# At that budget a small honest dataset of the suite's markets is often within its noise of
# zero: the suite pays any positive value, and tests/marketplace/test_identity_proof.py
# checks the market's own bar.
DATAFAIR_PAID_FDR = 1.0

# One process: a local cache that the suite clears before each test (tests/conftest.py). The
# suite signs up and logs in far more often than anyone would; tests/security lowers the
# rates it checks.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DATAFAIR_RATE_LIMITS = {scope: "10000/min" for scope in DATAFAIR_RATE_LIMITS}  # noqa: F405
