"""The two journeys of the web UI in a real browser against a live DataFair (web server and
Celery worker as separate processes on a scratch database): a provider signs up and
uploads; a consumer signs up, deposits, submits a task, watches it run through the real
worker, reads the results, buys and downloads; then the provider sees the payout.

Every step saves a full-page screenshot under ``test-artifacts/ui/``.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.support.builders import table_csv
from tests.support.stack import live_stack

pytestmark = [pytest.mark.ui, pytest.mark.integration]

PASSWORD = "a-long-browser-password-7"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
VALUATION_TIMEOUT_MS = 180_000
SCREENING_MS = 120_000

PROVIDER_FILES = {
    "Clinic visits, spring": table_csv(80, seed=1),
    "Clinic visits, autumn": table_csv(80, seed=2),
}


def bad_file() -> bytes:
    """A table whose third data row has an empty feature value."""
    lines = table_csv(20, seed=5).decode().splitlines()
    cells = lines[3].split(",")
    cells[1] = ""
    lines[3] = ",".join(cells)
    return ("\n".join(lines) + "\n").encode()


def cents(text: str) -> int:
    """``"$1,234.50"`` (with an optional sign) → ``123450``."""
    match = re.search(r"([−+-]?)\$([\d,]+)\.(\d\d)", text)
    assert match, f"no amount in {text!r}"
    value = int(match[2].replace(",", "")) * 100 + int(match[3])
    return -value if match[1] in "−-" and match[1] else value


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(tmp_path_factory.mktemp("ui-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def shared() -> dict:
    """What the consumer's journey learns and the provider's last step checks."""
    return {}


class Shots:
    def __init__(self, page, folder, prefix):
        self.page, self.folder, self.prefix = page, folder, prefix

    def __call__(self, name: str) -> None:
        self.page.screenshot(path=str(self.folder / f"{self.prefix}-{name}.png"), full_page=True)


def nav(page, name: str) -> None:
    """Follow a link of the main navigation and wait until its page has loaded (a click
    only starts the navigation: reading the page at once can read the one being left)."""
    link = page.get_by_role("navigation", name="Main").get_by_role("link", name=name)
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(f"**{href}")
    page.wait_for_load_state()


def sign_up(page, url, username, *roles):
    page.goto(f"{url}/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    for role in roles:
        page.get_by_label(role).check()
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name=f"Hello, {username}").wait_for()


def log_in(page, url, username):
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name=f"Hello, {username}").wait_for()


def upload(page, url, title, data, name):
    page.goto(f"{url}/datasets/new/")
    page.set_input_files("#id_file", {"name": name, "mimeType": "text/csv", "buffer": data})
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill("Visits to one clinic; one row per visit.")
    page.get_by_label("Label column").fill("y")
    page.get_by_label("License").fill("CC-BY-4.0")
    page.get_by_label("Reserve price").fill("1.00")
    page.get_by_role("button", name="Upload and publish").click()


def test_provider_signs_up_and_uploads(stack, chromium, screenshots):
    context = chromium.new_context(viewport=DESKTOP, base_url=stack.url)
    page = context.new_page()
    shot = Shots(page, screenshots, "1-provider")
    page.goto(f"{stack.url}/")
    shot("01-home")
    sign_up(page, stack.url, "paula", "Sell data")
    shot("02-dashboard")

    title = "Clinic visits, spring"
    upload(page, stack.url, title, bad_file(), "broken.csv")
    error = page.locator("#id_file_error")
    error.wait_for()
    assert "row 3" in error.inner_text() and "f2" in error.inner_text()
    assert page.locator("#id_file").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Title").input_value() == title, "what was typed is kept"
    assert page.get_by_label("Reserve price").input_value() == "1.00"
    assert "Choose the file again" in page.locator(".field-file").first.inner_text()
    shot("03-upload-rejected")

    for n, (title, data) in enumerate(PROVIDER_FILES.items(), start=1):
        upload(page, stack.url, title, data, f"clinic-{n}.csv")
        page.get_by_role("heading", name=title, level=1).wait_for()
        assert "being screened" in page.locator(".flash").inner_text()
        shot(f"04-screening-{n}")

    nav(page, "My datasets")
    rows = page.locator("table tbody tr")
    assert rows.count() == len(PROVIDER_FILES)
    # The worker screens each upload; the page refreshes itself until none is screening.
    page.locator(".badge-screening").first.wait_for(state="detached", timeout=SCREENING_MS)
    assert page.locator(".badge-published").count() == len(PROVIDER_FILES)
    shot("05-my-datasets")
    context.close()


def test_consumer_values_buys_downloads_and_the_provider_is_paid(
    stack, chromium, screenshots, shared
):
    context = chromium.new_context(viewport=DESKTOP, base_url=stack.url, accept_downloads=True)
    page = context.new_page()
    shot = Shots(page, screenshots, "2-consumer")
    sign_up(page, stack.url, "carl", "Buy data")

    nav(page, "Browse")
    cards = page.locator(".dataset-card")
    assert cards.count() == len(PROVIDER_FILES)
    page.get_by_label("At least rows").fill("81")
    page.get_by_role("button", name="Search").click()
    assert page.locator(".dataset-card").count() == 0, "both datasets have 80 rows"
    page.get_by_role("link", name="Clear filters").click()
    shot("06-browse")
    page.get_by_role("link", name="Clinic visits, spring").click()
    assert page.locator("table.preview tbody tr").count() == 5
    shot("07-dataset")

    nav(page, "Wallet")
    page.get_by_label("Amount").fill("500")
    page.get_by_role("button", name="Add credits").click()
    assert cents(page.get_by_test_id("balance").inner_text()) == 50_000
    shot("08-wallet-deposit")

    nav(page, "New task")
    page.get_by_label("Title").fill("Clinic no-show model")
    page.set_input_files(
        "#id_validation_file",
        {"name": "valid.csv", "mimeType": "text/csv", "buffer": table_csv(200, seed=9)},
    )
    page.get_by_label("Label column").fill("y")
    page.get_by_label("Budget").fill("200")
    page.get_by_label("Value of one point").fill("5")
    shot("09-new-task")
    page.get_by_role("button", name="Hold the budget and start").click()

    page.get_by_test_id("task-status").wait_for()
    shot("10-task-submitted")
    page.get_by_test_id("task-status").filter(has_text="quoted").wait_for(
        timeout=VALUATION_TIMEOUT_MS
    )
    page.get_by_test_id("contributions").wait_for()
    shot("11-results")

    contributions = page.get_by_test_id("contributions").locator("tbody tr")
    assert contributions.count() == len(PROVIDER_FILES)
    split = page.get_by_test_id("split")
    parts = [
        int(c)
        for c in split.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.cents)")
    ]
    total = int(split.locator("tfoot tr").get_attribute("data-total-cents"))
    assert sum(parts) == total, "the split adds up to the price, to the cent"
    price = cents(page.get_by_test_id("price").inner_text())
    assert price == total
    assert page.locator("svg.chart").count() >= 3
    provider_rows = split.locator("tbody tr").filter(has_text="Clinic visits")
    # What is sold is what the valuation found worth paying for (a dataset within its noise
    # of nothing is left out): the rest of the journey follows the offer.
    bought = [title for title in PROVIDER_FILES if provider_rows.filter(has_text=title).count()]
    assert bought, "the offer sells at least one dataset"
    shared["bought"] = bought
    shared["payouts"] = sorted(
        int(c) for c in provider_rows.evaluate_all("rows => rows.map(r => r.dataset.cents)")
    )

    page.set_viewport_size(PHONE)
    shot("12-results-phone")
    page.set_viewport_size(DESKTOP)

    # The worker computes the insights after the quote; the page reloads once they are ready.
    page.locator('#insights[data-insights="ready"]').wait_for(timeout=VALUATION_TIMEOUT_MS)
    page.get_by_role("link", name="See what the valuation found").click()
    assert page.get_by_test_id("suggestions").locator("tbody tr").count() >= 1
    assert "shown after purchase" in page.get_by_test_id("suggestions").inner_text()
    page.get_by_label("Spend at most").fill("30")
    page.get_by_role("button", name="Make an offer").click()
    row_split = page.get_by_test_id("offer-split")
    parts = row_split.locator("tbody tr").evaluate_all("rows => rows.map(r => +r.dataset.cents)")
    row_price = int(row_split.locator("tfoot tr").get_attribute("data-total-cents"))
    assert 0 < sum(parts) == row_price <= 3_000, "the row offer's split adds up, within $30"
    assert cents(page.get_by_test_id("offer-price").inner_text()) == row_price
    shot("12b-insights-and-row-offer")
    page.get_by_role("link", name="Clinic no-show model").first.click()

    page.get_by_role("link", name=re.compile("Review and buy")).click()
    assert cents(page.get_by_test_id("confirm-price").inner_text()) == price
    shot("13-confirm")
    page.get_by_role("button", name=re.compile("^Buy for")).dblclick()
    page.get_by_test_id("task-status").filter(has_text="purchased").wait_for()
    shot("14-bought")

    links = page.locator("#downloads a", has_text="Download")
    assert links.count() == len(bought)
    received = set()
    for i in range(links.count()):
        with page.expect_download() as download:
            links.nth(i).click()
        received.add(download.value.path().read_bytes())
    assert received == {PROVIDER_FILES[t] for t in bought}, "the bytes the provider uploaded"

    nav(page, "Wallet")
    assert cents(page.get_by_test_id("balance").inner_text()) == 50_000 - price
    assert cents(page.get_by_test_id("held").inner_text()) == 0
    statement = page.get_by_test_id("statement")
    assert statement.locator("tr", has_text="Capture purchase").count() == 1, "charged once"
    shot("15-wallet-after")
    nav(page, "Downloads")
    shot("16-downloads")
    context.close()

    context = chromium.new_context(viewport=DESKTOP, base_url=stack.url)
    page = context.new_page()
    shot = Shots(page, screenshots, "3-provider-paid")
    log_in(page, stack.url, "paula")
    nav(page, "Earnings")
    receipts = page.locator("article.payout")
    assert receipts.count() == len(shared["bought"])
    for summary in page.locator("summary").all():
        summary.click()
    paid = sorted(cents(t) for t in page.get_by_test_id("receipt-payout").all_inner_texts())
    assert paid == shared["payouts"], "the provider is paid what the buyer was shown"
    assert cents(page.get_by_test_id("earned").inner_text()) == sum(paid)
    hashes = set(page.get_by_test_id("sha256").all_inner_texts())
    assert hashes == {hashlib.sha256(PROVIDER_FILES[t]).hexdigest() for t in shared["bought"]}
    shot("17-earnings")
    context.close()


def test_the_pages_and_the_api_docs_run_under_the_content_security_policy(stack, chromium):
    # Every response forbids inline and third-party scripts (config/csp.py): the pages, their
    # script and Swagger UI must work without them, and the browser reports no violation.
    context = chromium.new_context(viewport=DESKTOP, base_url=stack.url)
    page = context.new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: refused.append(str(error)))
    page.goto(f"{stack.url}/api/docs/")
    page.locator(".swagger-ui .info .title", has_text="DataFair API").wait_for()
    log_in(page, stack.url, "paula")
    for name in ("My datasets", "Earnings", "Wallet"):
        nav(page, name)
    page.get_by_role("link", name="paula").click()
    page.get_by_role("heading", name="Your account").wait_for()
    assert refused == []
    context.close()
