"""Each settings module loads in a fresh interpreter from nothing but the environment."""

import json
import subprocess
import sys

import pytest

from tests.support.services import REPO_ROOT, process_env

PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'debug': settings.DEBUG, 'engine': settings.DATABASES['default']['ENGINE'],"
    " 'broker': settings.CELERY_BROKER_URL, 'hosts': settings.ALLOWED_HOSTS,"
    " 'renderers': settings.REST_FRAMEWORK.get('DEFAULT_RENDERER_CLASSES'),"
    " 'admin': settings.DATAFAIR_ADMIN_PATH}))"
)
STRONG_KEY = "k" * 30 + "-not-a-real-secret-but-long-enough-0123456789"


def load(module: str, **env: str | None) -> subprocess.CompletedProcess:
    environment = process_env(
        DJANGO_SETTINGS_MODULE=module,
        DATABASE_URL=None,
        REDIS_URL=None,
        DJANGO_SECRET_KEY=None,
        DEBUG=None,
        ALLOWED_HOSTS=None,
    )
    environment.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )


def loaded(module: str, **env: str | None) -> dict:
    result = load(module, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_local_defaults_are_embedded(tmp_path):
    settings = loaded("config.settings.local", DATAFAIR_VAR_DIR=str(tmp_path))
    assert settings["debug"] is True
    assert settings["engine"] == "django.db.backends.sqlite3"
    assert settings["broker"] == "filesystem://"
    assert (tmp_path / "celery" / "queue").is_dir()


def test_test_settings_follow_service_urls(tmp_path):
    settings = loaded(
        "config.settings.test",
        DATAFAIR_VAR_DIR=str(tmp_path),
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert settings["engine"] == "django.db.backends.postgresql"
    assert settings["broker"] == "redis://127.0.0.1:6379/0"
    assert settings["debug"] is False


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = load("config.settings.production", DATAFAIR_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_starts_with_a_secret_key(tmp_path):
    settings = loaded(
        "config.settings.production",
        DATAFAIR_VAR_DIR=str(tmp_path),
        DJANGO_SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="datafair.example",
    )
    assert settings["debug"] is False
    assert settings["hosts"] == ["datafair.example"]
    assert settings["renderers"] == ["rest_framework.renderers.JSONRenderer"], "no browsable API"
    assert settings["admin"] == "admin/"


@pytest.mark.parametrize(
    ("raw", "path"), [("/ops-7f3/", "ops-7f3/"), ("ops", "ops/"), ("", "admin/")]
)
def test_the_admin_path_is_the_deployments_choice(tmp_path, raw, path):
    settings = loaded(
        "config.settings.local", DATAFAIR_VAR_DIR=str(tmp_path), DATAFAIR_ADMIN_PATH=raw
    )
    assert settings["admin"] == path


def test_deploy_check_is_clean_under_production(tmp_path):
    environment = process_env(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=STRONG_KEY,
        DATAFAIR_VAR_DIR=str(tmp_path),
        ALLOWED_HOSTS="datafair.example",
        DEBUG=None,
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("raw", ["maybe", "2"])
def test_a_malformed_boolean_is_named(tmp_path, raw):
    result = load("config.settings.local", DATAFAIR_VAR_DIR=str(tmp_path), DEBUG=raw)
    assert result.returncode != 0
    assert f"DEBUG={raw!r}" in result.stderr


@pytest.mark.parametrize("raw", ["0", "1.5", "five percent"])
def test_a_paid_false_discovery_rate_outside_0_to_1_stops_the_start(tmp_path, raw):
    result = load("config.settings.local", DATAFAIR_VAR_DIR=str(tmp_path), DATAFAIR_PAID_FDR=raw)
    assert result.returncode != 0
    assert f"DATAFAIR_PAID_FDR={raw!r}" in result.stderr
