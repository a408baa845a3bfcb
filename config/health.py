"""Liveness (``/healthz``) and readiness (``/readyz``: database and broker reachable, and the
background work: how many units are queued, running, and waiting for the broker to be sent).
"""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # any transport error means "not ready"
        return f"{type(exc).__name__}: {exc}"
    return None


def _work() -> dict | None:
    from work.services import backlog

    try:
        return backlog()
    except DatabaseError:
        return None


@never_cache
@require_GET
def readyz(request):
    database, broker = _check_database(), _check_broker()
    errors = {name: error for name, error in (("database", database), ("broker", broker)) if error}
    work = None if database else _work()
    if errors:
        body = {"status": "unavailable", "errors": errors, "work": work}
        if broker and work and work["unsent"]:
            body["detail"] = f"{work['unsent']} unit(s) of work wait for the broker to be sent"
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ok", "checks": ["database", "broker"], "work": work})
