"""``python manage.py demo``: the main job on the embedded defaults.

Starts a real, separate Celery worker process, builds a small market (providers, datasets,
a consumer), submits the consumer's task, shows the valuation's progress as the worker
computes it, prints the contributions, the quote and the split, then what else the worker
found (what to drop, why the model errs, how fragile it is, a row-level offer), and serves
the web UI until interrupted. The worker is stopped when the command ends.
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

from config.celery import WORKER_FLAGS
from config.celery import app as celery_app
from marketplace.demo import PASSWORD, demo_market, demo_task
from marketplace.models import Task, TaskInsight
from marketplace.selectors.insights import insight_for
from marketplace.services.insights import task_row_offer
from marketplace.services.tasks import task_progress, task_status
from pricing.explanation import Line

WORKER_START_TIMEOUT = 60
VALUATION_TIMEOUT = 600


def cents(amount: int) -> str:
    return f"${amount / 100:,.2f}"


class Command(BaseCommand):
    help = "Start a worker, run a demo market through it, and serve the web UI."

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
            task = self._run_market(worker)
            self._report(task)
            self._insights(task, worker)
            if no_serve:
                return
            self.stdout.write("")
            self.stdout.write(self.style.SUCCESS(f"DataFair is running at http://{addr}:{port}/"))
            self.stdout.write(
                f"Log in as hospital-ai (consumer) or clinic-north (provider), "
                f"password {PASSWORD!r}. Press Ctrl-C to stop the server and the worker."
            )
            call_command("runserver", f"{addr}:{port}", use_reloader=False)
        finally:
            self._stop_worker(worker)

    # --- the worker -------------------------------------------------------------------------

    def _start_worker(self) -> subprocess.Popen:
        log = Path(settings.VAR_DIR) / "demo-worker.log"
        self.stdout.write(f"Starting a Celery worker (log: {log}) ...")
        command = [sys.executable, "-m", "celery", "-A", "config", "worker"]
        command += ["--loglevel", "INFO", "--concurrency", "2", "--hostname", "demo@%h"]
        command += [*WORKER_FLAGS, "--beat"]  # beat in the worker: the sweep of lost work
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
        self.stdout.write(f"Worker answered {answer!r} after {time.monotonic() - started:.1f} s.")

    def _stop_worker(self, worker: subprocess.Popen) -> None:
        if worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)

    # --- the market -------------------------------------------------------------------------

    def _run_market(self, worker: subprocess.Popen) -> Task:
        datasets, consumer = demo_market()
        self.stdout.write("\nOn the market:")
        for d in datasets:
            state = "on sale" if d.status == "published" else f"HELD: {d.hold_reason}"
            self.stdout.write(
                f"  #{d.pk:<3} {d.title:<24} {d.owner.username:<13} {d.n_rows:>4} rows  "
                f"reserve {cents(d.reserve_price_cents):>8}  {state}"
            )
        task = demo_task(consumer)
        self.stdout.write(
            f"\n{consumer.username} asks: {task.title!r} — {task.metric} of {task.model}, "
            f"budget {cents(task.budget_cents)}, {cents(task.value_per_point_cents)} per point "
            f"of {task.metric}; {task.candidates.count()} candidate datasets."
        )
        started = time.monotonic()
        interactive = self.stdout.isatty()
        shown = None
        while True:
            task = Task.objects.select_related("valuation_job", "bundle_job").get(pk=task.pk)
            progress = task_progress(task)
            step = (round(progress["fraction"] * 20), progress["utility_evaluations"])
            if step != shown:
                shown = step
                bar = "#" * int(progress["fraction"] * 30)
                eta = progress["eta_seconds"]
                eta = f", about {eta:.0f} s left" if eta else ""
                line = (
                    f"  valuing [{bar:<30}] {progress['fraction']:4.0%} ({progress['method']}, "
                    f"{progress['utility_evaluations']} models fitted{eta})"
                )
                self.stdout.write(
                    f"\r{line:<90}" if interactive else line, ending="" if interactive else "\n"
                )
                self.stdout.flush()
            if task.status not in (Task.Status.QUEUED, Task.Status.RUNNING):
                break
            if worker.poll() is not None:
                raise CommandError(f"the worker exited with code {worker.returncode}")
            if time.monotonic() - started > VALUATION_TIMEOUT:
                raise CommandError("the valuation did not finish in time")
            time.sleep(0.3)
        done = f"  done in {time.monotonic() - started:.1f} s: {task_status(task)}"
        self.stdout.write(("\n" if interactive else "") + done)
        return task

    def _report(self, task: Task) -> None:
        if task.status != Task.Status.QUOTED:
            raise CommandError(f"the task ended {task.status}: {task.error}")
        quote = task.quote
        offer = quote["offer"]
        basis = quote["basis"]
        self.stdout.write(
            f"\nWhat each dataset's rows add to {basis['metric']}: the sum of their Shapley "
            f"values ± standard error, each of the {basis['rows']} candidate rows valued "
            f"without knowing who owns it ({basis['utility_evaluations']} models fitted). "
            "The split follows these numbers:"
        )
        for c in sorted(quote["contributions"], key=lambda c: -c["value"]):
            verdict = "in the bundle" if c["in_bundle"] else f"left out: {c['excluded_because']}"
            self.stdout.write(
                f"  #{c['dataset']:<3} {c['title']:<24} {c['value']:+.4f} ± {c['stderr']:.4f}"
                f"  {verdict}"
            )
        if not offer["sale"]:
            self.stdout.write(f"\nNo sale: {offer['reason']}")
            return
        lift = offer["lift"]
        settlement = offer["settlement"]
        self.stdout.write(
            f"\nLift {lift['estimate']:+.4f} (95% interval {lift['lower']:+.4f} to "
            f"{lift['upper']:+.4f}): {quote['baseline_score']:.4f} → {quote['bundle_score']:.4f}"
        )
        self.stdout.write("\nQuote and split:")
        rows = [
            ("price charged", settlement["charge_cents"]),
            ("platform fee", settlement["fee_cents"]),
        ]
        rows += [(f"payout to dataset #{pid}", c) for pid, c in settlement["payouts"].items()]
        rows += [
            ("withheld (replication reserve)", settlement["withheld_cents"]),
            ("refund to consumer", settlement["refund_cents"]),
        ]
        for label, amount in rows:
            self.stdout.write(f"  {label:<32} {cents(amount):>10}")
        total = sum(amount for _, amount in rows[1:])
        self.stdout.write(f"  {'(fee + payouts + withheld + refund)':<32} {cents(total):>10}")
        self.stdout.write("\nWhy:")
        for line in offer["explanation"]:
            self.stdout.write(f"  - {Line.from_dict(line).sentence}")

    def _insights(self, task: Task, worker: subprocess.Popen) -> None:
        started = time.monotonic()
        while True:
            insight = TaskInsight.objects.filter(task=task).first()
            if insight is not None and insight.status != TaskInsight.Status.PENDING:
                break
            if worker.poll() is not None:
                raise CommandError(f"the worker exited with code {worker.returncode}")
            if time.monotonic() - started > VALUATION_TIMEOUT:
                raise CommandError("the insights were not computed in time")
            time.sleep(0.3)
        seen = insight_for(task=task, user=task.consumer)
        self.stdout.write(
            f"\nWhat else the worker found ({time.monotonic() - started:.1f} s after the quote):"
        )
        if seen.status != TaskInsight.Status.READY:
            self.stdout.write(f"  the insights failed: {seen.error}")
            return
        report = seen.report
        self.stdout.write("  Dropping each dataset, refitted (change in points, 95% interval):")
        for item in report.prune.sources:
            verdict = "drop it" if item.suggested else "no confident gain"
            self.stdout.write(
                f"    #{item.source:<3} {item.title:<24} {item.change * 100:+6.2f} "
                f"({item.change_lower * 100:+.2f} to {item.change_upper * 100:+.2f})  "
                f"{verdict}"
            )
        rows = report.prune.suspects
        where = ", ".join(
            f"{len(refs)} in {'your data' if dataset is None else f'#{dataset}'}"
            for dataset, refs in rows.by_player().items()
        )
        self.stdout.write(
            f"  The {rows.count} lowest-valued rows ({where}): dropping them changes "
            f"{task.metric} by {rows.change * 100:+.2f} points "
            f"({rows.change_lower * 100:+.2f} to {rows.change_upper * 100:+.2f})."
        )
        debug = report.debug
        if not debug.error:
            self.stdout.write(
                f"  Wrong predictions: {len(debug.points)} of {debug.n_valid} validation "
                "rows, each with the training rows that pulled it the wrong way "
                "(their positions show once bought)."
            )
        loss = report.sensitivity.loss
        if loss and loss.k is not None:
            self.stdout.write(
                f"  Sensitivity: dropping {loss.k} of {report.sensitivity.n_rows} "
                f"training rows raises the {loss.name} from {loss.original:.3f} past "
                f"{loss.threshold:.3f}; refitted: {loss.refit:.3f}."
            )
        budget = task.budget_cents // 4
        offer = task_row_offer(task=task, user=task.consumer, budget_cents=budget)
        counts = ", ".join(f"{len(r)} of #{d}" for d, r in offer.rows.items()) or "none"
        self.stdout.write(
            f"  Row-level offer within {cents(budget)}: {counts} for {cents(offer.price_cents)}"
            " (each row priced from its value; buy it on the task's rows page)."
        )
