"""Faults an operator meets, made on purpose against a live stack: a Redis of the test's own
(started on a free loopback port, without persistence, so a restart loses its data as the
issue's did) that can be flushed, killed and restarted, and workers that can be killed and
started again. Used by tests/integration/test_faults.py and benchmarks/faults.py."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from tests.support.api import Api, children, job_state, publish
from tests.support.services import free_port, running
from tests.support.stack import Stack, live_stack, worker_command

#: What "finished" means for the work a fault interrupted.
FINISHED_TASK = {"quoted", "failed", "cancelled", "purchased"}
#: The work settings the fault tests run with (the defaults are 60 s leases, a 30 s sweep
#: and 60 s before a queued message counts as lost: benchmarks/faults.py measures those).
FAST_WORK = {
    "DATAFAIR_WORK_LEASE_SECONDS": "8",
    "DATAFAIR_WORK_SWEEP_SECONDS": "2",
    "DATAFAIR_WORK_LOST_AFTER_SECONDS": "4",
}


class PrivateRedis:
    """``redis-server`` on a free loopback port with nothing kept on disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            assert self.proc.poll() is None, (self.folder / "redis.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        """A crash: the process is gone, and with it every message and key."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def flush(self) -> None:
        """The data is gone while the server stays up (connections survive)."""
        redis.Redis(port=self.port, socket_timeout=5).flushall()


@contextlib.contextmanager
def private_redis(folder: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.kill()


class FaultStack:
    """A live stack on a private Redis whose workers a test may kill and start again."""

    def __init__(self, stack: Stack, server: PrivateRedis, processes: contextlib.ExitStack):
        self.stack = stack
        self.redis = server
        self.processes = processes
        self.worker_pid = stack.worker_pid
        self.restarts = 0
        self.anon = Api(stack.url)

    def kill_worker(self) -> list[int]:
        """``kill -9`` of the worker's main process (its pool processes are not signalled);
        returns the pool processes it had."""
        pool = children(self.worker_pid)
        os.kill(self.worker_pid, signal.SIGKILL)
        return pool

    def start_worker(self) -> None:
        """Start a new worker (with beat), as a container restart would."""
        self.restarts += 1
        queue = self.stack.env["CELERY_QUEUE"]
        command = worker_command(queue)
        command[command.index("--hostname") + 1] = f"r{self.restarts}-{queue}@%h"
        log = self.stack.worker_log.with_name(f"worker-{self.restarts}.log")
        self.worker_pid = self.processes.enter_context(running(command, self.stack.env, log)).pid

    def supervise(self) -> None:
        """Start a new worker if the worker's main process has exited, as the deployment's
        supervisor does (docker-compose: ``restart: unless-stopped``). A worker may exit when
        the broker goes away under it: kombu's Redis transport can fail to acknowledge a
        message on the closed connection, which Celery calls an unrecoverable error."""
        if not _alive(self.worker_pid):
            self.start_worker()

    def interrupt(self, fault: str, *, down_seconds: float = 2.0) -> None:
        """Make ``fault`` happen now: ``worker killed`` (then a new worker started at once),
        ``redis flushed``, or ``redis restarted`` (after ``down_seconds``, empty)."""
        if fault == "worker killed":
            self.kill_worker()
            self.start_worker()
        elif fault == "redis flushed":
            self.redis.flush()
        elif fault == "redis restarted":
            self.redis.kill()
            time.sleep(down_seconds)
            self.redis.start()
        else:
            raise ValueError(f"no fault {fault!r}")

    def logs(self) -> str:
        folder = self.stack.worker_log.parent
        return "\n".join(p.read_text()[-8000:] for p in sorted(folder.glob("worker*.log")))


@contextlib.contextmanager
def fault_stack(tmp_path: Path, monkeypatch, **work_env: str) -> Iterator[FaultStack]:
    """A live stack (PostgreSQL, gunicorn, one worker of two processes with beat) on a private
    Redis, its jobs cut in many small chunks so a fault lands inside one."""
    for name, value in {
        "DATAFAIR_COALITIONS_PER_CHUNK": "4",
        "DATAFAIR_ROW_UNITS_PER_CHUNK": "1",
        "DATAFAIR_BASIS_FITS": "2048",  # 16 units of 128 fits: 16 chunks of the payout basis
        **work_env,
    }.items():
        monkeypatch.setenv(name, value)
    with (
        private_redis(tmp_path / "redis") as server,
        live_stack(tmp_path, redis=server.url) as stack,
        contextlib.ExitStack() as processes,
    ):
        yield FaultStack(stack, server, processes)


def build_market(faults: FaultStack, prefix: str, *, providers: int = 3) -> Api:
    """Published datasets of ``providers`` providers and a consumer with money to spend."""
    from tests.support.builders import table_csv

    for i in range(providers):
        provider = faults.anon.register(f"{prefix}p{i}", "provider")
        publish(provider, table_csv(90, seed=i + 1), f"{prefix} part {i}")
    consumer = faults.anon.register(f"{prefix}buyer", "consumer")
    consumer("POST", "/wallet/deposit/", 201, json={"amount_cents": 500_000})
    return consumer


def wait_mid_job(faults: FaultStack, task_id: int, timeout: float = 120) -> dict:
    """Poll until the task's payout-basis job has chunks done, running and still pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = job_state(faults.stack, task_id)
        statuses = [c["status"] for c in state["chunks"]]
        if "done" in statuses and "running" in statuses and statuses.count("pending") >= 2:
            return state
        time.sleep(0.02)
    raise AssertionError(f"never caught task {task_id} mid-job: {statuses}")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (an exited child not yet reaped is a zombie: not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_until_finished(
    consumer: Api, task_id: int, timeout: float, *, while_waiting=lambda: None
) -> tuple[dict, float]:
    """The task once quoted (or otherwise finished) with its insights ready or failed, and
    the seconds that took; ``while_waiting`` is called between polls."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        while_waiting()
        task = consumer("GET", f"/tasks/{task_id}/", 200)
        if task["status"] in FINISHED_TASK:
            if task["status"] != "quoted":
                return task, time.monotonic() - started
            insight = consumer("GET", f"/tasks/{task_id}/insights/", 200)
            if insight["status"] in ("ready", "failed"):
                return {**task, "insight": insight}, time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"task {task_id} unfinished after {timeout:.0f} s: {task['status']}")
