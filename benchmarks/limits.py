"""The product's limits at full size: time and peak memory of an upload at the advertised
limits (50 MiB, 1,000,000 rows), through the service the API calls.

    python -m benchmarks limits                 # updates docs/benchmarks/limits.md
    python -m benchmarks limits --parts upload  # one part

**upload** — ``marketplace.services.datasets.dataset_create`` on two generated CSV files
(one linear concept, 10% label noise): 480,000 rows × 12 columns with 5 decimals (about the 46.6 MiB
file with which an upload took 44.7 s before row hashes went to the database in bulk), and
1,000,000 rows × 8 columns with 3 decimals, under the 50 MiB limit. Each file is uploaded
twice, by two providers, into one scratch database: the first upload stores its row
hashes, the second finds them all (an exact copy, held at upload), so the overlap query
then runs against a market that holds the file's rows. Each upload runs in a fresh process
(peak RSS is that process's), on PostgreSQL (127.0.0.1:5432) and on the embedded SQLite file.

**screening** — ``dataset_screen`` of the 480,000-row upload against six compatible
100,000-row datasets, in a fresh process.

**workers** — a buyer's task on a market of 12 providers × 2,000 rows, valued by one and
then by two ``celery worker`` processes (Redis, PostgreSQL): seconds from the first chunk
to the last job, the speed-up, and the insights the workers compute after the quote.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import DOCS, ROOT, publish, table

REPORT = DOCS / "limits.md"
TITLE = "Limits at full size"
#: rows, feature columns (plus the label), decimals: the issue's 46.6 MiB file and a million
#: rows just under the 50 MiB limit.
CASES = ((480_000, 11, 5), (1_000_000, 7, 3))


def make_csv(path: Path, n_rows: int, n_features: int, decimals: int, seed: int = 0) -> Path:
    """A table of ``n_rows`` rows of one classification problem (a fixed linear concept with
    10% label noise; the same for every ``seed``), written in blocks of 100,000 (bounded
    memory). Files of different ``seed`` hold different rows of that problem."""
    weights = np.random.default_rng(12345).normal(size=n_features)
    rng = np.random.default_rng(seed)
    header = ",".join([*(f"x{j}" for j in range(n_features)), "y"])
    with path.open("w") as out:
        out.write(header + "\n")
        for start in range(0, n_rows, 100_000):
            n = min(100_000, n_rows - start)
            X = rng.normal(size=(n, n_features))
            y = (X @ weights > 0) ^ (rng.random(n) < 0.1)
            block = np.column_stack([X, y])
            np.savetxt(out, block, fmt=[f"%.{decimals}f"] * n_features + ["%d"], delimiter=",")
    return path


def upload_child(csv: str, username: str) -> dict:
    """One upload in this (fresh) process: seconds in the service and in its row-hash
    database work, peak RSS, the stored status."""
    import resource

    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketplace.services import datasets, rowhashes
    from marketplace.services.accounts import user_register

    spent = {"store": 0.0, "overlaps": 0.0}

    def timed(name: str, fn: Callable) -> Callable:
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return run

    rowhashes.store = timed("store", rowhashes.store)
    rowhashes.overlaps = timed("overlaps", rowhashes.overlaps)
    owner = user_register(username=username, password="a-long-bench-password", roles=["provider"])
    data = Path(csv).read_bytes()
    started = time.perf_counter()
    dataset = datasets.dataset_create(
        owner=owner,
        upload=SimpleUploadedFile(Path(csv).name, data),
        title=username,
        label_column="y",
        license="CC-BY-4.0",
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "store": spent["store"],
        "overlaps": spent["overlaps"],
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "status": dataset.status,
        "rows": dataset.n_rows,
        "id": dataset.pk,
    }


def _child_env(database_url: str, var_dir: Path) -> dict[str, str]:
    from tests.support.services import process_env

    return process_env(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DEBUG="0",
        DATABASE_URL=database_url,
        DATAFAIR_VAR_DIR=str(var_dir),
        REDIS_URL=None,
    )


def _run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600
    )
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-2000:] + result.stderr[-4000:])
    return result.stdout


def _answer(args: list[str], env: dict[str, str]) -> dict:
    """Run a child of this module and read the JSON it prints last."""
    return json.loads(_run(["-m", "benchmarks.limits", *args], env).strip().splitlines()[-1])


def _uploads(database_url: str, var_dir: Path, files: list[Path]) -> list[list[dict]]:
    env = _child_env(database_url, var_dir)
    _run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
    runs = []
    for i, csv in enumerate(files):
        pair = []
        for who in ("first", "copier"):
            pair.append(_answer(["--child", str(csv), f"{who}-{i}"], env))
        runs.append(pair)
    return runs


def upload_section(_: argparse.Namespace) -> str:
    from tests.support.services import scratch_postgres_database

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        files = [make_csv(tmp_path / f"{n}x{f + 1}.csv", n, f, dec) for n, f, dec in CASES]
        with scratch_postgres_database() as url:
            postgres = _uploads(url, tmp_path / "pg", files)
        sqlite = _uploads(f"sqlite:///{tmp_path / 'embedded.sqlite3'}", tmp_path / "sq", files)
        sizes = [f.stat().st_size / 2**20 for f in files]
    rows = []
    for engine, runs in (("PostgreSQL", postgres), ("SQLite (embedded)", sqlite)):
        for (n, f, _), size, pair in zip(CASES, sizes, runs):
            for label, run in zip(("first upload", "the same rows again"), pair):
                rows.append(
                    [
                        engine,
                        f"{n:,} × {f + 1} ({size:.1f} MiB)",
                        label,
                        f"{run['seconds']:.1f}",
                        f"{run['store']:.1f}",
                        f"{run['overlaps']:.1f}",
                        f"{run['rss_mib']:,.0f}",
                        run["status"],
                    ]
                )
    header = [
        "database",
        "file",
        "upload",
        "s in dataset_create",
        "of which: storing row hashes",
        "matching them against the market",
        "peak RSS (MiB)",
        "stored as",
    ]
    return (
        "### An upload at the limits\n\n"
        "The service behind `POST /api/datasets/` (parse, type, hash the rows, match them "
        "against the market, store file, columnar copy and hashes in one transaction), "
        "each upload in a fresh process. Before row hashes went to the database in bulk, the "
        "480,000-row file took 44.7 s, 85% of it row-hash queries and ORM objects (measured "
        "when issue 13 was filed).\n\n" + table(header, rows)
    )


def screen_child(dataset_id: int) -> dict:
    """Screen one stored upload in this (fresh) process: seconds, peak RSS, verdict."""
    import resource

    import django

    django.setup()
    from marketplace.models import Dataset
    from marketplace.quality import DatasetQuality
    from marketplace.services.screening import dataset_screen

    # The upload as a worker finds it, whatever the benchmark's own uploads did.
    Dataset.objects.filter(pk=dataset_id).update(status=Dataset.Status.SCREENING)
    started = time.perf_counter()
    dataset = dataset_screen(dataset_id)
    return {
        "seconds": time.perf_counter() - started,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "status": dataset.status,
        "hold_reason": dataset.hold_reason,
        "similar_to": DatasetQuality.from_dict(dataset.quality).similar_to,
    }


def _screening_run(n_rows: int, n_features: int, decimals: int) -> list[str]:
    """Upload a market of compatible datasets and one upload of ``n_rows``, then screen it."""
    from tests.support.services import scratch_postgres_database

    with tempfile.TemporaryDirectory() as tmp, scratch_postgres_database() as url:
        tmp_path = Path(tmp)
        env = _child_env(url, tmp_path / "var")
        _run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
        # The market: six compatible datasets of other providers, published.
        market = [
            make_csv(tmp_path / f"market{i}.csv", MARKET_ROWS, n_features, decimals, i + 1)
            for i in range(MARKET_DATASETS)
        ]
        _upload_all(env, market, "market")
        _publish_all(env)
        csv = make_csv(tmp_path / "upload.csv", n_rows, n_features, decimals, 0)
        (upload,) = _upload_all(env, [csv], "upload")
        run = _answer(["--screen", str(upload["id"])], env)
    return [
        f"{n_rows:,} × {n_features + 1}",
        f"{MARKET_DATASETS} × {MARKET_ROWS:,}",
        f"{run['seconds']:.1f}",
        f"{run['rss_mib']:,.0f}",
        run["status"] + (f" ({run['hold_reason']})" if run["hold_reason"] else ""),
        f"{max(run['similar_to'].values(), default=0.0):.3f}",
    ]


def screening_section(_: argparse.Namespace) -> str:
    rows = [_screening_run(*case) for case in CASES]
    header = [
        "upload",
        "compatible datasets on the market",
        "s to screen",
        "peak RSS (MiB)",
        "verdict",
        "highest similarity",
    ]
    return (
        "### Screening an upload at the limits\n\n"
        "`dataset_screen` in a fresh process, as a worker runs it: near duplicates against "
        "every compatible dataset, the label-flip and trigger screens, the provider's report "
        "(independent data: the market's rows and the upload come from different seeds).\n\n"
        + table(header, rows)
    )


#: The market the screening part screens against: compatible datasets of other providers.
MARKET_DATASETS, MARKET_ROWS = 6, 100_000

#: The scale-out task: providers × rows each, validation rows, worker processes to compare.
SCALE_PROVIDERS, SCALE_ROWS, SCALE_VALID = 12, 2_000, 500
SCALE_WORKERS = (1, 2)
SCALE_SEED = "20261206"


def task_child(valid_csv: str, candidates: list[int] | None = None) -> dict:
    """Submit the buyer's task in this process (logistic regression, accuracy; ``candidates``,
    or every listed dataset); its jobs wait in the queue for workers."""
    import resource

    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketplace.services.accounts import user_register
    from marketplace.services.tasks import task_jobs, task_submit
    from marketplace.services.wallet import wallet_deposit

    buyer = user_register(username="buyer", password="a-long-bench-password", roles=["consumer"])
    wallet_deposit(user=buyer, amount_cents=100_000)
    task = task_submit(
        consumer=buyer,
        validation_file=SimpleUploadedFile("valid.csv", Path(valid_csv).read_bytes()),
        label_column="y",
        metric="accuracy",
        model="logistic_regression",
        budget_cents=100_000,
        value_per_point_cents=1_000,
        candidates=candidates,
    )
    return {
        "task": task.pk,
        "jobs": [job.pk for job in task_jobs(task)],
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def jobs_child(job_ids: list[int]) -> dict:
    """Where the task's jobs are: finished or not, seconds from the first chunk started to
    the last job finished, chunks, and the evaluations they counted."""
    import django

    django.setup()
    from valuation.models import ValuationJob

    jobs = list(ValuationJob.objects.filter(pk__in=job_ids))
    done = all(job.status in ValuationJob.FINISHED for job in jobs)
    seconds = None
    if done:
        seconds = (
            max(job.finished_at for job in jobs) - min(job.started_at for job in jobs)
        ).total_seconds()
    return {
        "done": done,
        "statuses": [job.status for job in jobs],
        "seconds": seconds,
        "methods": [job.method for job in jobs],
        "chunks": sum(job.chunks.count() for job in jobs),
        "evaluations": sum(job.n_utility_evaluations for job in jobs),
        "values": [job.result["values"] if job.result else None for job in jobs],
        "chunk_seconds": [
            (chunk.finished_at - chunk.started_at).total_seconds()
            for job in jobs
            for chunk in job.chunks.order_by("started_at")
            if chunk.finished_at and chunk.started_at
        ],
    }


def _group_peak_rss_mib(pgid: int) -> float:
    """The largest peak RSS (VmHWM) among the live processes of process group ``pgid``."""
    peak = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if os.getpgid(int(status.parent.name)) != pgid:
                continue
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except (OSError, ValueError):
            continue
    return peak


@contextlib.contextmanager
def _bench_database(tmp_path: Path, tag: str):
    """A scratch PostgreSQL database, migrated, and the environment of its processes (Redis
    broker on a queue of its own, the scale-out seed, one BLAS thread per process)."""
    import uuid

    from tests.support.services import redis_url, scratch_postgres_database

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    with scratch_postgres_database() as url:
        env = {
            **_child_env(url, tmp_path / f"var-{tag}"),
            "REDIS_URL": redis_url(),
            "CELERY_QUEUE": queue,
            "DATAFAIR_VALUATION_SEED": SCALE_SEED,
            # One core per worker process: BLAS threads would compete with the other worker.
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
        _run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
        yield url, env


def _upload_all(env: dict[str, str], files: list[Path], prefix: str) -> list[dict]:
    return [_answer(["--child", str(csv), f"{prefix}-{i}"], env) for i, csv in enumerate(files)]


def _publish_all(env: dict[str, str]) -> None:
    code = "from marketplace.models import Dataset; Dataset.objects.update(status='published')"
    _run(["manage.py", "shell", "-c", code], env)


def _submit(env: dict[str, str], valid: Path, candidates: list[int] | None = None) -> dict:
    extra = [",".join(map(str, candidates))] if candidates else []
    return _answer(["--task", str(valid), *extra], env)


def _workers(stack: contextlib.ExitStack, env: dict[str, str], n: int, logs: Path) -> list:
    from tests.support.services import running
    from tests.support.stack import worker_command

    workers = []
    for k in range(n):
        command = worker_command(env["CELERY_QUEUE"], concurrency=1, beat=k == 0)
        command[command.index("--hostname") + 1] = f"w{k}-{env['CELERY_QUEUE']}@%h"
        workers.append(stack.enter_context(running(command, env, logs / f"worker-{k}.log")))
    return workers


def _wait(found: Callable[[], dict | None], workers: list, peak: float) -> tuple[dict, float]:
    """Poll ``found`` every second until it answers; the workers' largest peak RSS so far."""
    import time as clock

    while True:
        peak = max([peak, *(_group_peak_rss_mib(w.pid) for w in workers)])
        answer = found()
        if answer is not None:
            return answer, max([peak, *(_group_peak_rss_mib(w.pid) for w in workers)])
        clock.sleep(1)


def _jobs_state(env: dict[str, str], job_ids: list[int]) -> dict:
    return _answer(["--jobs", ",".join(map(str, job_ids))], env)


def _scale_run(n_workers: int, files: list[Path], valid: Path, tmp_path: Path) -> dict:
    """One market on a fresh database, its task valued by ``n_workers`` worker processes."""
    with _bench_database(tmp_path, f"scale{n_workers}") as (url, env):
        _upload_all(env, files, "provider")
        _publish_all(env)
        submitted = _submit(env, valid)
        logs = tmp_path / f"scale{n_workers}"
        logs.mkdir()
        with contextlib.ExitStack() as stack:
            workers = _workers(stack, env, n_workers, logs)
            insights, peak = _wait(lambda: _insights(url, submitted["task"]), workers, 0.0)
        return {**_jobs_state(env, submitted["jobs"]), **insights, "peak_rss_mib": peak}


def _insights(database_url: str, task_id: int) -> dict | None:
    """The task's insights once a worker has finished them (after its jobs and quote): their
    status and seconds from scheduled to stored; None before. One query from this process
    (a Django child per poll would take a core's worth of the workers' time)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT status, EXTRACT(EPOCH FROM updated_at - created_at) "
            "FROM marketplace_taskinsight WHERE task_id = %s AND status <> 'pending'",
            (task_id,),
        ).fetchone()
    return None if found is None else {"insights": found[0], "insights_seconds": float(found[1])}


def scale_section(_: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        files = [
            make_csv(tmp_path / f"p{i}.csv", SCALE_ROWS, 7, 3, seed=100 + i)
            for i in range(SCALE_PROVIDERS)
        ]
        valid = make_csv(tmp_path / "valid.csv", SCALE_VALID, 7, 3, seed=99)
        runs = {n: _scale_run(n, files, valid, tmp_path) for n in SCALE_WORKERS}
    one = runs[SCALE_WORKERS[0]]["seconds"]
    rows = [
        [
            str(n),
            " + ".join(run["methods"]),
            ", ".join(run["statuses"]),
            str(run["chunks"]),
            f"{run['evaluations']:,}",
            f"{run['seconds']:.1f}",
            f"{one / run['seconds']:.2f}×",
            f"{np.mean(run['chunk_seconds']):.2f}",
            f"{run['insights_seconds']:.1f} ({run['insights']})",
            f"{run['insights_seconds'] / run['seconds']:.2f}",
            f"{run['peak_rss_mib']:,.0f}",
            "yes" if run["values"] == runs[SCALE_WORKERS[0]]["values"] else "no",
        ]
        for n, run in runs.items()
    ]
    header = [
        "worker processes",
        "jobs",
        "status",
        "chunks",
        "utility evaluations counted",
        "s, first chunk started → last job finished",
        "speed-up",
        "s per chunk (mean)",
        "insights after the quote, s",
        "insights / valuation",
        "largest worker peak RSS (MiB)",
        "same values as 1 worker",
    ]
    return (
        "### Scaling a task out over workers\n\n"
        f"A market of {SCALE_PROVIDERS} providers × {SCALE_ROWS:,} rows (one classification "
        f"problem, 7 features) and a buyer's task on {SCALE_VALID} validation rows (logistic "
        "regression, accuracy), submitted through the service; then `celery worker` processes "
        "(concurrency 1 each, one BLAS thread) on Redis and PostgreSQL value it, quote it and "
        "compute its insights. Same data and seed "
        f"({SCALE_SEED}) in every run. Insights are timed from being scheduled (with the quote) to "
        "being stored.\n\n" + table(header, rows)
    )


#: The end-to-end run: the market's datasets (all compatible), and how many of them the task
#: values beside the million-row upload.
E2E_MARKET, E2E_OTHERS, E2E_WORKERS = 6, 5, 2


def _dataset_status(database_url: str, dataset_id: int) -> dict | None:
    """The dataset's status once screening has decided it; None while it is screening."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        (status,) = conn.execute(
            "SELECT status FROM marketplace_dataset WHERE id = %s", (dataset_id,)
        ).fetchone()
    return None if status == "screening" else {"status": status}


def _jobs_done(database_url: str, job_ids: list[int]) -> dict | None:
    """The jobs' statuses once every one has finished; None before."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        statuses = [
            status
            for (status,) in conn.execute(
                "SELECT status FROM valuation_valuationjob WHERE id = ANY(%s)", (job_ids,)
            )
        ]
    finished = all(status in ("succeeded", "failed", "cancelled") for status in statuses)
    return {"statuses": statuses} if finished else None


def end_to_end_section(_: argparse.Namespace) -> str:
    import time as clock

    n_rows, n_features, decimals = CASES[1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        market = [
            make_csv(tmp_path / f"m{i}.csv", MARKET_ROWS, n_features, decimals, seed=200 + i)
            for i in range(E2E_MARKET)
        ]
        upload_csv = make_csv(tmp_path / "upload.csv", n_rows, n_features, decimals, seed=300)
        valid = make_csv(tmp_path / "valid.csv", SCALE_VALID, n_features, decimals, seed=301)
        size = upload_csv.stat().st_size / 2**20
        with _bench_database(tmp_path, "e2e") as (url, env):
            others = [run["id"] for run in _upload_all(env, market, "market")]
            _publish_all(env)
            (upload,) = _upload_all(env, [upload_csv], "upload")
            with contextlib.ExitStack() as stack:
                workers = _workers(stack, env, E2E_WORKERS, tmp_path)
                started = clock.monotonic()
                screened, peaks = _wait(lambda: _dataset_status(url, upload["id"]), workers, 0.0)
                screening = clock.monotonic() - started
                submitted = _submit(env, valid, [upload["id"], *others[:E2E_OTHERS]])
                _, valued = _wait(lambda: _jobs_done(url, submitted["jobs"]), workers, peaks)
                insights, peak = _wait(lambda: _insights(url, submitted["task"]), workers, valued)
            state = _jobs_state(env, submitted["jobs"])
    rows = [
        [
            "upload (`dataset_create`)",
            f"{upload['seconds']:.1f}",
            f"{upload['rss_mib']:,.0f}",
            f"{n_rows:,} rows × {n_features + 1} ({size:.1f} MiB): {upload['status']}",
        ],
        [
            "screening (a worker)",
            f"{screening:.1f}",
            f"{peaks:,.0f}",
            f"against {E2E_MARKET} compatible "
            f"datasets of {MARKET_ROWS:,} rows: {screened['status']}",
        ],
        [
            "task submitted (`task_submit`)",
            "",
            f"{submitted['rss_mib']:,.0f}",
            f"the upload and {E2E_OTHERS} others, {SCALE_VALID} validation rows",
        ],
        [
            "valuation (jobs: " + " + ".join(state["methods"]) + ")",
            f"{state['seconds']:.1f}",
            f"{valued:,.0f}",
            f"{state['chunks']} chunks, {state['evaluations']:,} utility evaluations, "
            + ", ".join(state["statuses"]),
        ],
        [
            "insights after the quote",
            f"{insights['insights_seconds']:.1f}",
            f"{peak:,.0f}",
            f"{insights['insights']}; {insights['insights_seconds'] / state['seconds']:.2f}× the "
            "valuation",
        ],
    ]
    header = ["step", "seconds", "peak RSS (MiB; of the workers: the largest so far)", "what"]
    return (
        "### A million-row upload, end to end\n\n"
        f"A market of {E2E_MARKET} published datasets of {MARKET_ROWS:,} rows; a provider "
        f"uploads {n_rows:,} rows of the same problem (other rows); {E2E_WORKERS} `celery "
        "worker` processes (concurrency 1, one BLAS thread) screen it, value a buyer's task "
        "over it and five of the others (logistic regression, accuracy), quote it and compute "
        "its insights, on Redis and PostgreSQL at the default settings. Seconds of screening "
        "include the workers' start.\n\n" + table(header, rows)
    )


PARTS: dict[str, Callable[[argparse.Namespace], str]] = {
    "upload": upload_section,
    "screening": screening_section,
    "workers": scale_section,
    "end-to-end": end_to_end_section,
}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(upload_child(sys.argv[2], sys.argv[3])))
        return
    if sys.argv[1:2] == ["--task"]:
        candidates = [int(i) for i in sys.argv[3].split(",")] if sys.argv[3:] else None
        print(json.dumps(task_child(sys.argv[2], candidates)))
        return
    if sys.argv[1:2] == ["--jobs"]:
        print(json.dumps(jobs_child([int(i) for i in sys.argv[2].split(",")])))
        return
    if sys.argv[1:2] == ["--screen"]:
        print(json.dumps(screen_child(int(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    for part in args.parts:
        publish(parser, args, PARTS[part](args), report=REPORT, title=TITLE, key=part)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    main()
