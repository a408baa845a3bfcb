"""Number formats of the web pages: money round-trips to the cent, explanation lines keep
their amounts (and their arithmetic) when rewritten as currency."""

import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.web.formatting import (
    MINUS,
    cell,
    money,
    money_in_text,
    points,
    sentence,
    share,
    wait,
)
from pricing.explanation import ALL_AMOUNTS
from pricing.lift import Lift
from pricing.quote import BundleValuation, quote
from pricing.shares import Contribution

AMOUNT = re.compile(r"([−+]?)\$([\d,]+)\.(\d\d)")


def parse(text: str) -> int:
    sign, whole, part = AMOUNT.fullmatch(text).groups()
    value = int(whole.replace(",", "")) * 100 + int(part)
    return -value if sign == MINUS else value


@given(st.integers(min_value=-(10**13), max_value=10**13), st.booleans())
def test_money_round_trips_to_the_cent(cents, signed):
    text = money(cents, signed=signed)
    assert parse(text) == cents
    assert text.startswith("+") == (signed and cents > 0)


@pytest.mark.parametrize("bad", [1.5, True, "100", None])
def test_money_is_integer_cents_only(bad):
    with pytest.raises(TypeError):
        money(bad)


contribution = st.builds(
    Contribution,
    provider_id=st.sampled_from(["1", "2", "3", "4"]),
    value=st.floats(min_value=-0.05, max_value=0.2),
    stderr=st.floats(min_value=0, max_value=0.02),
    reserve_cents=st.integers(min_value=0, max_value=3000),
)


@given(
    contributions=st.lists(contribution, min_size=1, max_size=4, unique_by=lambda c: c.provider_id),
    lower=st.floats(min_value=-0.05, max_value=0.3),
    width=st.floats(min_value=0, max_value=0.2),
    budget=st.integers(min_value=1, max_value=10**7),
    per_point=st.integers(min_value=0, max_value=10**5),
    fee_bps=st.integers(min_value=0, max_value=3000),
)
def test_explanations_keep_every_amount_and_the_check_still_adds_up(
    contributions, lower, width, budget, per_point, fee_bps
):
    lift = Lift(lower + width / 2, lower, lower + width)
    offer = quote(
        BundleValuation(contributions=tuple(contributions), lift=lift),
        budget_cents=budget,
        cents_per_point=per_point,
        fee_bps=fee_bps,
    )
    for line in offer.explanation:
        shown = money_in_text(line.text, all_amounts=line.kind in ALL_AMOUNTS)
        assert not re.search(r"\bcents\b", shown), shown
        written = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) cents", line.text)]
        if line.kind not in ALL_AMOUNTS:
            assert [parse(m[0]) for m in AMOUNT.finditer(shown)] == written
    if offer.sale:
        (check_line,) = [line for line in offer.explanation if line.kind == "check"]
        check = money_in_text(check_line.text, all_amounts=True)
        charged, *parts = [parse(m[0]) for m in AMOUNT.finditer(check)]
        assert charged == offer.charge_cents == sum(parts)


def test_points_are_signed_hundredths():
    assert points(0.0758) == "+7.58"
    assert points(-0.0329) == f"{MINUS}3.29"
    assert points(0.00001) == "0.00"


@given(st.floats(min_value=-10, max_value=10))
def test_points_are_symmetric(x):
    positive, negative = points(abs(x)), points(-abs(x))
    assert negative == positive or negative == f"{MINUS}{positive[1:]}"


def test_waits_read_as_words():
    assert wait(None) == "estimating…"
    assert wait(float("nan")) == "estimating…"
    assert wait(3) == "a few seconds"
    assert wait(42) == "about 40 s"
    assert wait(600) == "about 10 min"


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_share_is_the_fraction_as_a_percentage(numerator, denominator):
    shown = share(f"{numerator}/{denominator}")
    assert shown.endswith("%")
    exact = Fraction(numerator, denominator) * 100
    assert abs(Fraction(shown[:-1]) - exact) <= Fraction(1, 200)


def test_sentence_capitalises_words_but_not_file_names():
    assert sentence("this username is taken") == "This username is taken"
    assert sentence("column 'f2' has a missing value in row 3").startswith("Column")
    assert sentence("data.csv is empty") == "data.csv is empty"
    assert sentence("'y' is missing") == "'y' is missing"


def test_preview_cells():
    assert cell(0.123456789) == "0.1235"
    assert cell(3) == "3"
    assert cell("red") == "red"
    assert cell(None) == ""
    assert cell(True) == "True"
