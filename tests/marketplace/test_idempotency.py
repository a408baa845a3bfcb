"""Once-only requests (marketplace.services.idempotency), as the API header and the web's
confirmation forms use them: one key, one effect."""

import pytest

from marketplace.models import IdempotencyRecord
from marketplace.services.errors import Conflict
from marketplace.services.idempotency import KeyReused, Replay, once
from marketplace.web.idempotency import run_once
from tests.support.builders import make_user

pytestmark = pytest.mark.django_db


def test_one_key_runs_the_work_once_and_replays_its_outcome():
    user, effects = make_user("buyer", "consumer"), []

    def work():
        effects.append(1)
        return {"order": len(effects)}

    def keep(result):
        return 201, result

    first = once(user=user, key="k", fingerprint="buy 7", work=work, stored=keep)
    again = once(user=user, key="k", fingerprint="buy 7", work=work, stored=keep)
    assert first == {"order": 1} and again == Replay(201, {"order": 1}) and effects == [1]
    with pytest.raises(KeyReused):
        once(user=user, key="k", fingerprint="buy 8", work=work, stored=keep)
    other = make_user("other", "consumer")  # keys are per user
    assert once(user=other, key="k", fingerprint="buy 8", work=work, stored=keep) == {"order": 2}


def test_an_outcome_not_kept_or_a_failure_leaves_the_key_free():
    user = make_user("buyer", "consumer")
    assert once(user=user, key="k", fingerprint="f", work=lambda: 503, stored=lambda r: None) == 503
    with pytest.raises(RuntimeError):
        once(user=user, key="k", fingerprint="f", work=_fail, stored=lambda r: (201, r))
    assert not IdempotencyRecord.objects.exists()
    assert once(user=user, key="k", fingerprint="f", work=lambda: 1, stored=lambda r: (201, r)) == 1


def test_a_confirmation_form_is_bound_to_its_action():
    user = make_user("buyer", "consumer")
    assert run_once(user=user, key="web-1", action="purchase task:7", work=lambda: {"a": 1}) == {
        "a": 1
    }
    assert run_once(user=user, key="web-1", action="purchase task:7", work=_fail) == {"a": 1}
    with pytest.raises(Conflict, match="belongs to another request"):
        run_once(user=user, key="web-1", action="purchase task:8", work=_fail)
    with pytest.raises(Conflict, match="expired"):
        run_once(user=user, key="", action="purchase task:7", work=_fail)


def _fail():
    raise RuntimeError("the work failed")
