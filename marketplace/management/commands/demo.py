"""``python manage.py demo``: the main job on the embedded defaults.

Starts a real, separate Celery worker process, proves it consumes from the broker, then
serves the site until interrupted. The worker is stopped when the command ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from config.celery import app as celery_app

WORKER_START_TIMEOUT = 60


class Command(BaseCommand):
    help = "Start a worker, run the demo job through it, and serve the web UI."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1", help="address to serve on")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument(
            "--no-serve", action="store_true", help="run the job, print the results and exit"
        )

    def handle(self, *args, addr, port, no_serve, **options):
        call_command("migrate", interactive=False, verbosity=0)
        worker = self._start_worker()
        try:
            self._wait_for_worker(worker)
            if no_serve:
                return
            self.stdout.write(self.style.SUCCESS(f"DataFair is running at http://{addr}:{port}/"))
            self.stdout.write("Press Ctrl-C to stop the server and the worker.")
            call_command("runserver", f"{addr}:{port}", use_reloader=False)
        finally:
            self._stop_worker(worker)

    def _start_worker(self) -> subprocess.Popen:
        log = Path(settings.VAR_DIR) / "demo-worker.log"
        self.stdout.write(f"Starting a Celery worker (log: {log}) ...")
        command = [sys.executable, "-m", "celery", "-A", "config", "worker"]
        command += ["--loglevel", "INFO", "--concurrency", "2", "--hostname", "demo@%h"]
        with log.open("ab") as out:
            return subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_for_worker(self, worker: subprocess.Popen) -> None:
        started = time.monotonic()
        result = celery_app.send_task("datafair.ping")
        while not result.ready():
            if worker.poll() is not None:
                raise CommandError(f"the worker exited with code {worker.returncode}")
            if time.monotonic() - started > WORKER_START_TIMEOUT:
                raise CommandError("the worker did not answer within a minute")
            time.sleep(0.2)
        answer = result.get(timeout=1)
        elapsed = time.monotonic() - started
        self.stdout.write(f"Worker answered {answer!r} after {elapsed:.1f} s.")

    def _stop_worker(self, worker: subprocess.Popen) -> None:
        if worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
