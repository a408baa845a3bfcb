"""Suite-wide fixtures: a scratch media folder and fresh rate counts for every test, and the
markets that tests of several folders share, each built once per module (the scheme is in
tests/support/shared.py; the builders in tests/support/builders.py and contract_market.py)."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from marketplace.models import TaskInsight
from marketplace.services.insights import insight_run
from tests.support.builders import build_task_market, quoted_task
from tests.support.contract_market import Market, build_market
from tests.support.shared import Shared, built_once_fixture, order_by_shared_state, shared_fixture

#: Folders of the longest modules, in the order they run: tests that start processes
#: (a live stack, a worker, the demo), then tests that drive a browser, then the rest.
LONGEST_FIRST = ("integration", "ui")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    order_by_shared_state(items)
    # Over several pytest processes (make test) the run ends when its last module does: the
    # long ones go first, so that the short ones fill the gaps at the end.
    items.sort(
        key=lambda item: next(
            (i for i, folder in enumerate(LONGEST_FIRST) if item.path.parent.name == folder),
            len(LONGEST_FIRST),
        )
    )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``make test``'s ``--dist loadfile``, but every module of the first of LONGEST_FIRST in
    one process, one after another: two live stacks side by side on two cores slowed each
    other about fourfold (the demo took 274 s of its 300 s limit), while the other process
    runs the rest of the suite."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ProcessesInOneLine(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return LONGEST_FIRST[0] if Path(path).parent.name == LONGEST_FIRST[0] else path

    return ProcessesInOneLine(config, log)


@pytest.fixture(autouse=True)
def _fresh_rate_counts():
    """Rate-limit counts live in the cache (config/throttling.py): each test starts at zero."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    """Every test stores its uploads in a scratch folder of its own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


task_market_state = built_once_fixture("task_market_state", build_task_market)


@pytest.fixture
def market(task_market_state, media_root, db):
    """Three providers (two honest datasets, one with most labels flipped) and a consumer
    with 50,000 cents: ``(providers, dataset ids, consumer)``, fresh objects for each test."""
    providers, ids, consumer = task_market_state.for_test(media_root)
    fresh = User.objects.in_bulk([u.pk for u in [*providers, consumer]])
    return [fresh[p.pk] for p in providers], list(ids), fresh[consumer.pk]


@shared_fixture
def insight_state(task_market_state, tmp_path_factory) -> Shared:
    """On the market, a quoted task of its consumer whose insights were computed:
    ``(task pk, insight pk)``."""

    def build(market):
        _, _, consumer = market
        task = quoted_task(consumer)
        done = insight_run(task.pk)
        assert done.status == TaskInsight.Status.READY, done.error
        return task.pk, done.pk

    with task_market_state.extended(tmp_path_factory.mktemp("insight"), build) as state:
        yield state


contract_market_state = built_once_fixture("contract_market_state", build_market)


@pytest.fixture
def contract_market(contract_market_state, media_root, db) -> Market:
    """Five users of distinct roles and what each owns (tests/support/contract_market.py)."""
    return contract_market_state.for_test(media_root)
