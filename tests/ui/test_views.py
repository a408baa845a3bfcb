"""The web pages without a browser: who may open what, errors shown next to the field with
what was typed kept, once-only purchases and deposits, downloads, and results whose
numbers agree with the quote."""

import html
import re

import pytest
from django.contrib.auth.models import User
from django.db.models import Sum

from marketplace.models import Dataset, JournalEntry, Order, Posting, Task
from marketplace.services.datasets import dataset_create
from marketplace.services.tasks import task_submit
from marketplace.services.wallet import wallet_deposit
from tests.support.builders import PASSWORD, make_user, screened, table_csv, upload
from tests.support.jobs import run_task
from tests.support.shared import built_once_fixture, shared_fixture

pytestmark = pytest.mark.django_db

AMOUNT = re.compile(r"[−+]?\$[\d,]+\.\d\d")


def publish(owner, title, seed, *, flip=0.0, reserve=0):
    dataset = dataset_create(
        owner=owner,
        upload=upload(table_csv(80, seed=seed, flip=flip)),
        title=title,
        label_column="y",
        license="CC0-1.0",
        reserve_price_cents=reserve,
    )
    return screened(dataset.pk)


def build_clinics():
    """This module's market (its ``market`` fixture), built once (tests/support/shared.py)."""
    paula, quinn = make_user("paula", "provider"), make_user("quinn", "provider")
    datasets = [
        publish(paula, "Clinic spring", 1, reserve=100),
        publish(quinn, "Clinic autumn", 2),
        publish(quinn, "Triage logs", 3, flip=0.8),
    ]
    carl = make_user("carl", "consumer")
    wallet_deposit(user=carl, amount_cents=50_000)
    return {"paula": paula.pk, "quinn": quinn.pk, "carl": carl.pk, "datasets": datasets}


clinics_state = built_once_fixture("clinics_state", build_clinics)


@pytest.fixture
def market(clinics_state, media_root, db):
    """Two providers with three datasets (one of flipped labels), a consumer with money."""
    built = clinics_state.for_test(media_root)
    users = User.objects.in_bulk([built["paula"], built["quinn"], built["carl"]])
    datasets = [Dataset.objects.get(pk=d.pk) for d in built["datasets"]]
    return {name: users[built[name]] for name in ("paula", "quinn", "carl")} | {
        "datasets": datasets
    }


def submit(consumer, budget=20_000):
    return task_submit(
        consumer=consumer,
        validation_file=upload(table_csv(200, seed=9), "valid.csv"),
        label_column="y",
        metric="accuracy",
        model="logistic_regression",
        budget_cents=budget,
        value_per_point_cents=500,
        title="No-shows",
    )


def build_quote(built) -> int:
    task = submit(User.objects.get(pk=built["carl"]))
    run_task(task)
    task.refresh_from_db()
    assert task.status == Task.Status.QUOTED and task.quote["offer"]["sale"], task.error
    return task.pk


@shared_fixture
def quoted_state(clinics_state, tmp_path_factory):
    """The consumer's task on this module's market, quoted, built once."""
    with clinics_state.extended(tmp_path_factory.mktemp("quoted"), build_quote) as state:
        yield state


@pytest.fixture
def quoted(quoted_state, market, media_root):
    return Task.objects.get(pk=quoted_state.for_test(media_root))


def signed_in(client, user):
    client.force_login(user)
    return client


def confirmation(response) -> str:
    return re.search(rb'name="confirmation" value="([^"]+)"', response.content)[1].decode()


def field_error(response, name: str) -> str:
    match = re.search(rf'id="id_{name}_error">(.*?)</p>', response.content.decode(), re.S)
    assert match, f"no error shown next to {name}"
    return re.sub(r"<[^>]+>", "", match[1])


# --- who may open what ----------------------------------------------------------------------


PRIVATE = [
    "/datasets/",
    "/datasets/new/",
    "/datasets/mine/",
    "/earnings/",
    "/tasks/",
    "/tasks/new/",
    "/downloads/",
    "/wallet/",
]


@pytest.mark.parametrize("url", PRIVATE)
def test_signed_out_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_the_home_page_and_sign_up_are_public(client):
    assert client.get("/").status_code == 200
    assert client.get("/accounts/signup/").status_code == 200
    assert client.get("/accounts/login/").status_code == 200


@pytest.mark.parametrize(
    ("role", "url", "allowed"),
    [
        ("provider", "/datasets/new/", True),
        ("provider", "/datasets/mine/", True),
        ("provider", "/earnings/", True),
        ("provider", "/tasks/new/", False),
        ("provider", "/tasks/", False),
        ("consumer", "/tasks/new/", True),
        ("consumer", "/tasks/", True),
        ("consumer", "/datasets/new/", False),
        ("consumer", "/datasets/mine/", False),
        ("consumer", "/earnings/", False),
    ],
)
def test_pages_of_one_role_are_refused_to_the_other_with_a_reason(client, role, url, allowed):
    signed_in(client, make_user(f"only-{role}", role))
    response = client.get(url)
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert b"This page is for" in response.content


def test_nobody_opens_anyone_elses_task(client, quoted, market):
    signed_in(client, make_user("nosy", "consumer"))
    for url in ("", "progress/", "buy/"):
        assert client.get(f"/tasks/{quoted.pk}/{url}").status_code == 404
    assert client.post(f"/tasks/{quoted.pk}/buy/", {"confirmation": "k"}).status_code == 404
    assert client.post(f"/tasks/{quoted.pk}/cancel/").status_code == 404
    quoted.refresh_from_db()
    assert quoted.status == Task.Status.QUOTED


def test_a_held_dataset_is_seen_by_its_owner_only(client, market):
    held = market["datasets"][1]
    Dataset.objects.filter(pk=held.pk).update(status=Dataset.Status.HELD, hold_reason="copied")
    signed_in(client, market["carl"])
    assert client.get(f"/datasets/{held.pk}/").status_code == 404
    browse = client.get("/datasets/").content.decode()
    assert "Clinic autumn" not in browse and "Clinic spring" in browse
    client.force_login(market["quinn"])
    page = client.get(f"/datasets/{held.pk}/").content.decode()
    assert "Held for review" in page and "copied" in page


def test_downloads_need_a_purchase(client, market):
    dataset = market["datasets"][0]
    signed_in(client, market["carl"])
    refused = client.get(f"/datasets/{dataset.pk}/download/")
    assert refused.status_code == 403
    assert b"Buy this dataset" in refused.content
    client.force_login(market["paula"])
    own = client.get(f"/datasets/{dataset.pk}/download/")
    assert own.status_code == 200
    assert b"".join(own.streaming_content) == table_csv(80, seed=1)


def test_formula_cells_are_warned_about_on_the_page_and_neutralised_by_its_download(client, market):
    dataset = market["datasets"][0]
    Dataset.objects.filter(pk=dataset.pk).update(formula_cells={"colour": 3})
    signed_in(client, market["carl"])
    page = html.unescape(client.get(f"/datasets/{dataset.pk}/").content.decode())
    assert "Spreadsheet formulas." in page and "colour (3 rows)" in re.sub(r"<[^>]+>", "", page)
    client.force_login(market["paula"])
    page = client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert "Spreadsheet formulas." in page


# --- errors where they happen, nothing typed lost -------------------------------------------


def test_sign_up_with_a_taken_name_keeps_the_rest(client, market):
    response = client.post(
        "/accounts/signup/",
        {"username": "paula", "email": "p2@example.org", "password": PASSWORD, "roles": "consumer"},
    )
    assert response.status_code == 400
    assert "This username is taken" in field_error(response, "username")
    page = response.content.decode()
    assert 'value="p2@example.org"' in page
    assert re.search(r'value="consumer"[^>]*checked', page)
    assert 'aria-invalid="true"' in page


def test_signing_up_logs_in(client, db):
    response = client.post(
        "/accounts/signup/",
        {"username": "nora", "password": PASSWORD, "roles": ["provider", "consumer"]},
        follow=True,
    )
    assert response.status_code == 200
    assert response.context["user"].username == "nora"
    assert response.context["user"].profile.roles == ["provider", "consumer"]


def test_a_bad_upload_names_row_and_column_next_to_the_file_and_keeps_the_rest(client, market):
    lines = table_csv(20, seed=5).decode().splitlines()
    cells = lines[4].split(",")
    cells[2] = "inf"
    lines[4] = ",".join(cells)
    signed_in(client, market["paula"])
    before = Dataset.objects.count()
    response = client.post(
        "/datasets/new/",
        {
            "file": upload(("\n".join(lines) + "\n").encode(), "broken.csv"),
            "title": "My broken data",
            "label_column": "y",
            "license": "CC0-1.0",
            "reserve_price": "12.50",
            "preview_policy": "head",
        },
    )
    assert response.status_code == 400
    message = field_error(response, "file")
    assert "row 4" in message and "f3" in message
    page = response.content.decode()
    assert 'value="My broken data"' in page and 'value="12.50"' in page
    assert "Choose the file again" in page
    assert Dataset.objects.count() == before


def test_a_negative_reserve_is_refused_before_reading_the_file(client, market):
    signed_in(client, market["paula"])
    response = client.post(
        "/datasets/new/",
        {
            "file": upload(table_csv(20, seed=6)),
            "title": "x",
            "label_column": "y",
            "license": "CC0-1.0",
            "reserve_price": "-1",
            "preview_policy": "head",
        },
    )
    assert response.status_code == 400
    assert "greater than or equal to 0" in field_error(response, "reserve_price")


def new_task_form(**overrides):
    form = {
        "title": "Churn",
        "validation_file": upload(table_csv(200, seed=9), "valid.csv"),
        "kind": "classification",
        "label_column": "y",
        "metric": "accuracy",
        "model": "logistic_regression",
        "budget": "200",
        "value_per_point": "5",
    }
    form.update(overrides)
    return form


def test_a_budget_beyond_the_wallet_is_explained_in_money(client, market):
    signed_in(client, market["carl"])
    response = client.post("/tasks/new/", new_task_form(budget="600"))
    assert response.status_code == 400
    message = field_error(response, "budget")
    assert "$500.00" in message and "$600.00" in message
    assert 'value="Churn"' in response.content.decode()
    assert Task.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"metric": "r2"}, "metric", "regression"),
        ({"kind": "regression", "metric": "r2", "model": "logistic_regression"}, "model", "does"),
        ({"label_column": "nope"}, "validation_file", "nope"),
        ({"budget": "0"}, "budget", "greater than or equal to 0.01"),
        ({"candidates": "999999"}, "candidates", "999999"),
    ],
)
def test_task_errors_land_on_their_field(client, market, overrides, field, words):
    signed_in(client, market["carl"])
    response = client.post("/tasks/new/", new_task_form(**overrides))
    assert response.status_code == 400
    assert words in field_error(response, field)
    assert Task.objects.count() == 0


def test_a_task_starts_holds_its_budget_and_shows_progress(client, market):
    signed_in(client, market["carl"])
    response = client.post("/tasks/new/", new_task_form())
    task = Task.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/tasks/{task.pk}/"
    assert task.held_cents == 20_000 and task.budget_cents == 20_000
    assert task.value_per_point_cents == 500
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert f'data-poll-url="/tasks/{task.pk}/progress/"' in page
    assert "data-finished" not in client.get(f"/tasks/{task.pk}/progress/").content.decode()
    run_task(task)
    assert b"data-finished" in client.get(f"/tasks/{task.pk}/progress/").content


# --- results, purchase, money -----------------------------------------------------------------


def test_results_show_the_quotes_numbers_each_with_its_reason(client, quoted, market):
    signed_in(client, market["carl"])
    response = client.get(f"/tasks/{quoted.pk}/")
    results = response.context["results"]
    offer = quoted.quote["offer"]
    settlement = offer["settlement"]
    assert sum(row.cents for row in results.split) == settlement["charge_cents"]
    by_title = {row.title: row for row in results.contributions}
    assert not by_title["Triage logs"].in_bundle and by_title["Triage logs"].value < 0
    assert all(row.why for row in results.contributions), "every contribution has a reason"
    assert all(row.why for row in results.split), "every part of the price has a reason"
    page = response.content.decode()
    text = re.sub(r"<[^>]+>", " ", page)
    assert not re.search(r"\bcents\b", text), "money is shown as currency"
    assert page.count('role="img"') >= 3
    for line in results.explained.lines:
        for amount in AMOUNT.findall(line):
            assert amount in page


def test_the_task_page_says_what_the_split_follows_and_why_it_cannot_be_gamed(
    client, quoted, market
):
    signed_in(client, market["carl"])
    response = client.get(f"/tasks/{quoted.pk}/")
    basis = response.context["results"].basis
    rows = quoted.valuation_job.spec.n_rows
    assert (basis.rows, basis.fits) == (rows, quoted.valuation_job.n_utility_evaluations)
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))
    assert f"each of the {rows} candidate rows valued as a player of your task" in text
    assert "Why the split cannot be gamed." in text
    assert "cutting the same rows into more datasets or accounts" in text
    # The pool's line carries the quote's own "Split:" sentence.
    split = response.context["results"].explained.general["split"]
    assert split.startswith("Split:") and split in text


def test_buying_twice_with_one_confirmation_charges_once(client, quoted, market):
    carl = market["carl"]
    signed_in(client, carl)
    key = confirmation(client.get(f"/tasks/{quoted.pk}/buy/"))
    first = client.post(f"/tasks/{quoted.pk}/buy/", {"confirmation": key})
    second = client.post(f"/tasks/{quoted.pk}/buy/", {"confirmation": key})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/tasks/{quoted.pk}/#downloads"
    assert Order.objects.count() == 1
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.CAPTURE).count() == 1
    charge = quoted.quote["offer"]["settlement"]["charge_cents"]
    assert Order.objects.get().price_cents == charge
    assert Posting.objects.aggregate(total=Sum("amount_cents"))["total"] == 0

    again = client.post(f"/tasks/{quoted.pk}/buy/", {"confirmation": "another-key"})
    assert again.status_code == 409
    assert b"already been purchased" in again.content
    assert client.get(f"/tasks/{quoted.pk}/buy/").status_code == 302


def test_a_confirmation_cannot_be_spent_on_another_task(client, quoted, market):
    carl = market["carl"]
    other = submit(carl, budget=5_000)
    signed_in(client, carl)
    key = confirmation(client.get(f"/tasks/{quoted.pk}/buy/"))
    assert client.post(f"/tasks/{quoted.pk}/buy/", {"confirmation": key}).status_code == 302
    run_task(other)
    reused = client.post(f"/tasks/{other.pk}/buy/", {"confirmation": key})
    assert reused.status_code == 409
    assert Order.objects.count() == 1


def test_bought_datasets_download_with_their_bytes(client, quoted, market):
    signed_in(client, market["carl"])
    key = confirmation(client.get(f"/tasks/{quoted.pk}/buy/"))
    client.post(f"/tasks/{quoted.pk}/buy/", {"confirmation": key})
    page = client.get(f"/tasks/{quoted.pk}/").content.decode()
    bundle = quoted.quote["offer"]["bundle"]
    seeds = {d.pk: seed for d, seed in zip(market["datasets"], (1, 2, 3), strict=True)}
    for pid in bundle:
        url = f"/datasets/{pid}/download/"
        assert url in page
        for _ in range(2):  # re-downloads are free
            response = client.get(url)
            assert b"".join(response.streaming_content) == table_csv(80, seed=seeds[int(pid)])
    assert "Triage logs" not in client.get("/downloads/").content.decode()


def test_cancelling_releases_the_budget(client, market):
    carl = market["carl"]
    task = submit(carl)
    signed_in(client, carl)
    response = client.post(f"/tasks/{task.pk}/cancel/", follow=True)
    assert b"back in your wallet" in response.content
    assert client.get("/wallet/").context["wallet"]["held_cents"] == 0
    again = client.post(f"/tasks/{task.pk}/cancel/", follow=True)
    assert b"already cancelled" in again.content


def test_a_deposit_counts_once_per_confirmation(client, market):
    carl = market["carl"]
    signed_in(client, carl)
    key = confirmation(client.get("/wallet/"))
    for _ in range(2):
        response = client.post("/wallet/", {"amount": "12.34", "confirmation": key})
        assert response.status_code == 302
    assert client.get("/wallet/").context["wallet"]["balance_cents"] == 50_000 + 1234


@pytest.mark.parametrize(("amount", "words"), [("abc", "Enter a number"), ("0", "greater")])
def test_a_bad_deposit_is_explained_and_kept(client, market, amount, words):
    signed_in(client, market["carl"])
    response = client.post(
        "/wallet/", {"amount": amount, "confirmation": confirmation(client.get("/wallet/"))}
    )
    assert response.status_code == 400
    assert words in field_error(response, "amount")
    assert f'value="{amount}"' in response.content.decode()


def test_browse_filters_and_sorts(client, market):
    signed_in(client, market["carl"])
    titles = [d.title for d in client.get("/datasets/?sort=title").context["page"].object_list]
    assert titles == sorted(titles)
    assert client.get("/datasets/?min_rows=81").context["page"].paginator.count == 0
    cheap = client.get("/datasets/?max_reserve=0.99").context["page"].object_list
    assert "Clinic spring" not in [d.title for d in cheap]
    bad = client.get("/datasets/?min_rows=abc")
    assert bad.status_code == 200 and bad.context["page"].paginator.count == 3
