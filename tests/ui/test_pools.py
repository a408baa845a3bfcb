"""The label pool pages without a browser: start a pool from a task, label a batch once
(a resubmitted form is not a second round), refusals shown where they belong, the fallback
note, the export, and nobody else's pool."""

import html
import io
import re

import pandas as pd
import pytest

from marketplace.models import LabelPool
from tests.support.builders import make_task, make_user, pool_table, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def carl(client):
    user = make_user("carl", "consumer")
    client.force_login(user)
    return user


def start(client, task, data=None, **fields):
    form = {
        "title": "Spring intake",
        "strategy": "uncertainty",
        "batch_size": 4,
        "file": upload(pool_table()[0] if data is None else data, "pool.csv"),
        **fields,
    }
    return client.post(f"/tasks/{task.pk}/pools/new/", form)


def confirmation(response) -> str:
    return re.search(rb'name="confirmation" value="([^"]+)"', response.content)[1].decode()


def batch_rows(response) -> list[int]:
    return [int(r) for r in re.findall(rb'name="label-(\d+)"', response.content)]


def test_a_consumer_starts_a_pool_from_the_task_page(client, carl):
    task = make_task(carl)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert f'href="/tasks/{task.pk}/pools/new/"' in page
    form = client.get(f"/tasks/{task.pk}/pools/new/").content.decode()
    assert "needed more labels than uncertainty sampling" in form, "value is not oversold"
    assert "least confidence" in form and "seeded random order" in form
    response = start(client, task)
    pool = LabelPool.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/pools/{pool.pk}/"
    assert (pool.strategy, pool.batch_size, pool.title) == ("uncertainty", 4, "Spring intake")
    assert "Spring intake" in client.get(f"/tasks/{task.pk}/").content.decode()


def test_a_refused_file_is_named_next_to_the_file_field(client, carl):
    task = make_task(carl)
    response = start(client, task, data=pool_table(extra=2.0)[0], title="kept")
    assert response.status_code == 400
    shown = re.search(r'id="id_file_error">(.*?)</p>', response.content.decode(), re.S)[1]
    message = html.unescape(shown)
    assert "'extra'" in message and "not a feature" in message
    assert 'value="kept"' in response.content.decode()
    assert not LabelPool.objects.exists()


def test_labeling_a_batch_counts_once_and_reranks(client, carl):
    task = make_task(carl)
    start(client, task)
    pool = LabelPool.objects.get()
    page = client.get(f"/pools/{pool.pk}/")
    rows = batch_rows(page)
    assert rows == pool.ranking[:4]
    assert '<option value="0">0</option>' in page.content.decode()
    _, truth = pool_table()
    form = {"confirmation": confirmation(page), **{f"label-{r}": str(truth[r]) for r in rows[:3]}}
    form[f"label-{rows[3]}"] = ""  # left for later
    saved = client.post(f"/pools/{pool.pk}/", form)
    assert saved.status_code == 302
    again = client.post(f"/pools/{pool.pk}/", form)
    assert again.status_code == 302, "a resubmitted form replays the first outcome"
    pool.refresh_from_db()
    assert pool.rounds == 1
    assert pool.labels == {str(r): int(truth[r]) for r in rows[:3]}
    after = client.get(f"/pools/{pool.pk}/")
    assert set(batch_rows(after)).isdisjoint(rows[:3]) and rows[3] in pool.ranking
    progress = after.content.decode()
    assert re.search(r"Labeled</th><td class=\"num\">3<", progress)
    assert 'id="pool-' in progress and "<svg" in progress

    export = client.get(f"/pools/{pool.pk}/export/")
    assert export["Content-Type"] == "text/csv"
    exported = pd.read_csv(io.BytesIO(export.content))
    assert exported["y"].tolist() == [int(truth[r]) for r in sorted(rows[:3])]


def test_a_bad_label_is_refused_naming_the_row_and_keeps_what_was_chosen(client, carl):
    task = make_task(carl)
    start(client, task)
    pool = LabelPool.objects.get()
    page = client.get(f"/pools/{pool.pk}/")
    first, second = batch_rows(page)[:2]
    form = {"confirmation": confirmation(page), f"label-{first}": "1", f"label-{second}": "7"}
    response = client.post(f"/pools/{pool.pk}/", form)
    assert response.status_code == 400
    page = response.content.decode()
    error = re.search(r'data-testid="label-error">(.*?)</p>', page)[1]
    assert error.startswith(f"Row {second}: ")
    kept = re.search(rf'name="label-{first}">(.*?)</select>', page, re.S)[1]
    assert '<option value="1" selected>' in kept
    pool.refresh_from_db()
    assert pool.labels == {} and pool.rounds == 0


def test_the_page_says_when_the_strategy_has_no_model_yet(client, carl):
    task = make_task(carl, baseline=False)
    start(client, task, strategy="value")
    pool = LabelPool.objects.get()
    page = client.get(f"/pools/{pool.pk}/").content.decode()
    assert 'data-testid="pool-note"' in page and "fewer than two classes" in page


def test_nobody_else_sees_a_pool(client, carl):
    task = make_task(carl)
    start(client, task)
    pool = LabelPool.objects.get()
    client.force_login(make_user("cora", "consumer"))
    assert client.get(f"/pools/{pool.pk}/").status_code == 404
    assert client.get(f"/pools/{pool.pk}/export/").status_code == 404
    assert client.post(f"/pools/{pool.pk}/", {"label-1": "1"}).status_code == 404
    assert client.get(f"/tasks/{task.pk}/pools/new/").status_code == 404
    client.force_login(make_user("paula", "provider"))
    assert client.get(f"/tasks/{task.pk}/pools/new/").status_code == 403
