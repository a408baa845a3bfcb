"""Reaching the real services the suite talks to: PostgreSQL, Redis, and the processes we start.

Under ``REQUIRE_SERVICES=1`` (CI) an unreachable service fails the test; otherwise the test
is skipped with the reason, so a laptop without Redis can still run the rest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}


def unavailable(what: str) -> None:
    """Fail under REQUIRE_SERVICES, otherwise skip, saying which service is missing."""
    message = f"{what} is not reachable"
    if services_required():
        pytest.fail(f"{message} (REQUIRE_SERVICES=1: a missing service is a failure)")
    pytest.skip(message)


def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        unavailable(f"Redis at {url}")
    return url


def postgres_url() -> str:
    """The PostgreSQL server named by DATABASE_URL (when it is PostgreSQL) or the local one."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = DEFAULT_POSTGRES_URL
    import psycopg

    try:
        with psycopg.connect(_libpq(url), connect_timeout=3):
            pass
    except psycopg.Error:
        unavailable(f"PostgreSQL at {url}")
    return url


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


@contextlib.contextmanager
def scratch_postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    import psycopg

    server = postgres_url()
    name = f"datafair_scratch_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_libpq(server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_env(**overrides: str | None) -> dict[str, str]:
    """The environment for a child process: this one's, the venv first on PATH, overrides
    applied (``None`` removes a variable)."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run ``command`` in its own process group for the duration of the block; its output
    goes to ``log`` (shown in the failure message when something goes wrong)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> int:
    """Poll ``url`` until it answers (any status) and return the status code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{log.read_text()}")


def celery_call(task: str, env: dict[str, str], timeout: float = 60) -> str:
    """Send ``task`` from a separate client process and return what the worker answered."""
    code = (
        "import sys; from config.celery import app; "
        f"print(app.send_task({task!r}).get(timeout={timeout}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 30,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()
