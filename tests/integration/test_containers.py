"""The compose file is valid, and its ``web``, ``worker`` and ``beat`` commands, run exactly
as it states them against the local PostgreSQL and Redis, serve ``/readyz``, answer ``ping``
and run the sweep of lost work."""

import shutil
import subprocess
import time
import uuid

import pytest
import yaml

from tests.support.services import (
    REPO_ROOT,
    celery_call,
    free_port,
    process_env,
    redis_url,
    running,
    scratch_postgres_database,
    services_required,
    wait_for_http,
)

pytestmark = pytest.mark.integration
COMPOSE = REPO_ROOT / "docker-compose.yml"
SECRET = "compose-smoke-" + "x" * 60


def compose_services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_compose_file_validates():
    if shutil.which("docker-compose") is None:
        if services_required():
            pytest.fail("docker-compose is not installed (.ci/run installs it)")
        pytest.skip("docker-compose is not installed")
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=process_env(DJANGO_SECRET_KEY=SECRET),
    )
    assert result.returncode == 0, result.stderr


def test_compose_services_share_one_image_and_wait_for_health():
    services = compose_services()
    assert services["web"]["image"] == services["worker"]["image"] == services["beat"]["image"]
    for name in ("web", "worker", "beat"):
        for dependency in ("postgres", "redis"):
            assert services[name]["depends_on"][dependency] == {"condition": "service_healthy"}
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name


def test_web_and_worker_commands_serve_against_local_services(tmp_path):
    services = compose_services()
    queue = f"q-{uuid.uuid4().hex[:8]}"
    port = free_port()
    with scratch_postgres_database() as database_url:
        env = process_env(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            DJANGO_SECRET_KEY=SECRET,
            DATABASE_URL=database_url,
            REDIS_URL=redis_url(),
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="0",
            DATAFAIR_VAR_DIR=str(tmp_path),
            BIND_HOST="127.0.0.1",
            PORT=str(port),
            WEB_CONCURRENCY="1",
            CELERY_CONCURRENCY="1",
            CELERY_QUEUE=queue,
            DATAFAIR_WORK_SWEEP_SECONDS="2",
        )
        web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
        beat_log = tmp_path / "beat.log"
        with (
            running(services["web"]["command"], env, web_log) as web,
            running(services["worker"]["command"], env, worker_log),
            running(services["beat"]["command"], env, beat_log),
        ):
            status = wait_for_http(f"http://127.0.0.1:{port}/readyz", web, web_log, timeout=120)
            assert status == 200, web_log.read_text()
            assert celery_call("datafair.ping", env) == "pong", worker_log.read_text()
            # Beat queues the sweep of lost work and the worker runs it.
            deadline = time.monotonic() + 60
            while "Task work.sweep" not in worker_log.read_text():
                assert time.monotonic() < deadline, beat_log.read_text() + worker_log.read_text()
                time.sleep(0.5)
