"""Test settings: the suite runs on SQLite by default and on PostgreSQL/Redis when the
environment names them (``.ci/run`` does, with ``REQUIRE_SERVICES=1``)."""

from config.env import env_bool
from config.settings.base import *  # noqa: F403

DEBUG = False
REQUIRE_SERVICES = env_bool("REQUIRE_SERVICES", False)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
