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
