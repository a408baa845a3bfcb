"""The Celery application: JSON only, late acks, one message at a time per worker process.

Tasks are thin (they take ids and call a service); a task re-run on a finished row must be a
no-op, which is what makes ``acks_late`` + ``task_reject_on_worker_lost`` safe.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

#: How every worker is started (``docker/start-worker``, ``manage.py demo``, the tests' live
#: stacks): without the worker-to-worker chatter nothing here uses (the sweep and the leases
#: find lost work, not gossip), and whose reconnection after a Redis restart has left workers
#: connected but no longer consuming (celery#8030, #8091, #10205).
WORKER_FLAGS = ("--without-gossip", "--without-mingle", "--without-heartbeat")

app = Celery("datafair")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="datafair.ping")
def ping() -> str:
    """Answer ``pong``: proves a worker is consuming from the broker."""
    return "pong"
