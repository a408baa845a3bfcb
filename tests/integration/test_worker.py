"""A real ``celery worker`` process consumes tasks from the broker, on the embedded
filesystem transport and on Redis."""

import sys
import uuid

import pytest

from config.celery import WORKER_FLAGS
from tests.support.services import celery_call, process_env, redis_url, running

pytestmark = pytest.mark.integration


def worker_command(queue: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        "solo",
        "--queues",
        queue,
        "--hostname",
        f"test-{queue}@%h",
        "--loglevel",
        "INFO",
        *WORKER_FLAGS,
    ]


def test_worker_answers_ping_on_the_filesystem_broker(tmp_path):
    queue = f"q-{uuid.uuid4().hex[:8]}"
    env = process_env(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        REDIS_URL=None,
        DATABASE_URL=None,
        DATAFAIR_VAR_DIR=str(tmp_path),
        CELERY_QUEUE=queue,
    )
    with running(worker_command(queue), env, tmp_path / "worker.log"):
        assert celery_call("datafair.ping", env) == "pong"
    assert not any((tmp_path / "celery" / "queue").iterdir()), "message left unconsumed"


def test_worker_answers_ping_on_redis(tmp_path):
    queue = f"q-{uuid.uuid4().hex[:8]}"
    env = process_env(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        REDIS_URL=redis_url(),
        DATAFAIR_VAR_DIR=str(tmp_path),
        CELERY_QUEUE=queue,
    )
    with running(worker_command(queue), env, tmp_path / "worker.log"):
        assert celery_call("datafair.ping", env) == "pong"
