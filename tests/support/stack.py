"""A running DataFair for end-to-end tests: a fresh database, the web server and a real
Celery worker as separate processes, as a deployment runs them.

``live_stack`` prefers the real services (a scratch PostgreSQL database, Redis as broker)
and falls back to a SQLite file and the filesystem broker when they are not configured.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from config.celery import WORKER_FLAGS
from tests.support.services import (
    REPO_ROOT,
    free_port,
    process_env,
    redis_url,
    running,
    scratch_postgres_database,
    wait_for_http,
)

#: Scopes of config/throttling.py's rates, lifted in a live stack.
RATE_SCOPES = ("LOGIN", "REGISTER", "UPLOAD", "DEPOSIT")


@dataclass(frozen=True)
class Stack:
    url: str
    env: dict[str, str]
    var_dir: Path
    worker_log: Path
    web_log: Path
    worker_pid: int = 0

    def manage(self, *args: str) -> str:
        """Run a management command against this stack's database; return its stdout."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout


@contextlib.contextmanager
def _database(kind: str, var_dir: Path) -> Iterator[str]:
    if kind == "postgres":
        with scratch_postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{var_dir / 'stack.sqlite3'}"


def worker_command(queue: str, concurrency: int = 2, *, beat: bool = True) -> list[str]:
    """A worker on ``queue``; with ``beat``, it also runs Celery beat (the sweep of lost work),
    as ``make demo`` does. One beat per deployment: a second worker runs without."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--queues",
        queue,
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"{queue}@%h",
        "--loglevel",
        "INFO",
        *WORKER_FLAGS,
        *(["--beat"] if beat else []),
    ]


@contextlib.contextmanager
def live_stack(
    tmp_path: Path,
    *,
    database: str = "postgres",
    broker: str = "redis",
    workers: int = 2,
    redis: str | None = None,
    beat: bool = True,
) -> Iterator[Stack]:
    """Start web + worker on a fresh database; stop both and drop the database afterwards.
    ``redis`` names a Redis of the test's own (tests/support/faults.py) instead of the
    shared one; without ``beat`` the worker's only child processes are its pool's."""
    var_dir = tmp_path / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    queue = f"stack-{uuid.uuid4().hex[:8]}"
    port = free_port()
    with _database(database, var_dir) as database_url:
        env = process_env(
            DJANGO_SETTINGS_MODULE="config.settings.local",
            DEBUG="0",
            DATABASE_URL=database_url,
            REDIS_URL=(redis or redis_url()) if broker == "redis" else None,
            DATAFAIR_VAR_DIR=str(var_dir),
            CELERY_QUEUE=queue,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_CONN_MAX_AGE="0",
            # The payout basis at the test suite's budget and bar (config/settings/test.py)
            # unless a test sets its own: the live stack checks the processes, not the
            # precision, and its small markets cannot measure at that budget.
            DATAFAIR_BASIS_FITS=os.environ.get("DATAFAIR_BASIS_FITS", "512"),
            DATAFAIR_PAID_FDR=os.environ.get("DATAFAIR_PAID_FDR", "1"),
            # The suite's seed, so that a live market gives the same values on every run.
            DATAFAIR_VALUATION_SEED=os.environ.get("DATAFAIR_VALUATION_SEED", "20261203"),
            # The suite signs up, logs in and uploads far more often than a person would, and
            # with Redis the counts outlive a stack (config/throttling.py).
            **{f"DATAFAIR_RATE_{scope}": "100000/min" for scope in RATE_SCOPES},
        )
        stack = Stack(
            url=f"http://127.0.0.1:{port}",
            env=env,
            var_dir=var_dir,
            worker_log=tmp_path / "worker.log",
            web_log=tmp_path / "web.log",
        )
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.manage("collectstatic", "--noinput", "-v", "0")
        web_command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "120",
        ]
        with (
            running(worker_command(queue, workers, beat=beat), env, stack.worker_log) as worker,
            running(web_command, env, stack.web_log) as web,
        ):
            wait_for_http(f"{stack.url}/healthz", web, stack.web_log, timeout=60)
            yield dataclasses.replace(stack, worker_pid=worker.pid)
