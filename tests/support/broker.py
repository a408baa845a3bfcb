"""The configured broker (Redis in CI, else the filesystem transport) made to misbehave in
this process: a queue of a test's own, or a broker that is down."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from config.celery import app
from tests.support.services import free_port


@contextlib.contextmanager
def celery_conf(**values) -> Iterator[None]:
    """Celery settings changed for a while (Celery's settings object cannot be monkeypatched)."""
    before = {name: app.conf[name] for name in values}
    app.conf.update(values)
    try:
        yield
    finally:
        app.conf.update(before)


@contextlib.contextmanager
def private_queue() -> Iterator[str]:
    """A default queue of the block's own on the configured broker, purged afterwards."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    with celery_conf(task_default_queue=name):
        try:
            yield name
        finally:
            with app.connection_for_write() as conn:
                conn.default_channel.queue_purge(name)


def broker_down():
    """The broker is a closed port on loopback (nothing listens there)."""
    return celery_conf(
        broker_url=f"redis://127.0.0.1:{free_port()}/0", broker_write_url=None, broker_read_url=None
    )
