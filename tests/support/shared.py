"""State that the tests of one module share, built once for the module instead of once a test.

A ``@shared_fixture`` is a module-scoped fixture that yields a :class:`Shared`: what it built
(users, datasets, a quoted task…) and the folder of the files that state refers to. It is
built by :func:`built_once` (or declared by :func:`built_once_fixture`) inside a transaction
that is rolled back when the module ends, or by :meth:`Shared.extended` in a savepoint of the
state it builds on. A test reaches it through a function-scoped fixture that calls
:meth:`Shared.for_test` and asks for ``db``: the test runs in a savepoint of that transaction
(pytest-django's ``db``) and on a copy of the state's files in its own media folder
(tests/conftest.py), so what one test changes, in the database or on disk, the next one does
not see. Hand each test fresh model instances (fetched by primary key), not the ones built.

State built for the module is there for every later test of the module, so the tests of a
module run in order of how much of it they use (tests/conftest.py sorts them, stably): tests
that use none run first, on an empty database, then those that use the module's market,
then those that use a quoted task made on it, and so on. The state fixtures a module uses
must therefore build on each other in one line; a module that uses two unrelated ones is
refused at collection.

Not for tests whose work another process does (a live stack's worker or web server, a
``transactional_db`` test's threads): another connection cannot see an uncommitted
transaction, so those tests keep building what they use, committed.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
from django.db import transaction
from django.test import override_settings

T = TypeVar("T")
U = TypeVar("U")

#: The names of the ``@shared_fixture`` fixtures (for the ordering of tests/conftest.py).
SHARED_FIXTURES: set[str] = set()


def shared_fixture(func):
    """Declare a module-scoped fixture that yields a :class:`Shared`."""
    SHARED_FIXTURES.add(func.__name__)
    return pytest.fixture(scope="module")(func)


@dataclass(frozen=True)
class Shared(Generic[T]):
    value: T
    media: Path  # MEDIA_ROOT while it was built: the files its rows name

    def for_test(self, media_root: Path) -> T:
        """The state, with a copy of its files in the test's own media folder."""
        shutil.copytree(self.media, media_root, dirs_exist_ok=True)
        return self.value

    @contextlib.contextmanager
    def extended(self, media: Path, build: Callable[[T], U]) -> Iterator[Shared[U]]:
        """``build(value)`` on top of this state, in a savepoint rolled back when the block
        ends; its files go to ``media``, beside a copy of this state's."""
        self.for_test(media)
        with transaction.atomic():
            with override_settings(MEDIA_ROOT=media):
                value = build(self.value)
            yield Shared(value, media)
            transaction.set_rollback(True)


@contextlib.contextmanager
def built_once(django_db_blocker: Any, media: Path, build: Callable[[], T]) -> Iterator[Shared[T]]:
    """``build()`` with the database open and uploads stored under ``media``, in a transaction
    rolled back when the block ends."""
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(MEDIA_ROOT=media):
            value = build()
        yield Shared(value, media)
        transaction.set_rollback(True)


def built_once_fixture(name: str, build: Callable[[], Any]):
    """A ``@shared_fixture`` called ``name`` that yields ``build()`` built once per module."""

    def fixture(django_db_setup, django_db_blocker, tmp_path_factory):
        with built_once(django_db_blocker, tmp_path_factory.mktemp(name), build) as state:
            yield state

    fixture.__name__ = name
    fixture.__doc__ = build.__doc__
    return shared_fixture(fixture)


def order_by_shared_state(items: list[pytest.Item]) -> None:
    """Sort each module's tests, stably, by how many shared fixtures they use; refuse a module
    whose shared fixtures do not build on each other in one line."""
    first: dict[Path, int] = {}
    used: dict[int, frozenset[str]] = {}
    for index, item in enumerate(items):
        first.setdefault(item.path, index)
        used[id(item)] = frozenset(SHARED_FIXTURES.intersection(item.fixturenames))
    by_module: dict[Path, set[frozenset[str]]] = {}
    for item in items:
        by_module.setdefault(item.path, set()).add(used[id(item)])
    for path, sets in by_module.items():
        line = sorted(sets, key=len)
        for smaller, larger in zip(line, line[1:]):
            if not smaller <= larger:
                raise pytest.UsageError(
                    f"{path}: its tests use shared fixtures that do not build on each other "
                    f"({sorted(smaller)} and {sorted(larger)}); see tests/support/shared.py"
                )
    position = {id(item): index for index, item in enumerate(items)}
    items.sort(key=lambda it: (first[it.path], len(used[id(it)]), position[id(it)]))
