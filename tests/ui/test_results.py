"""The task page picks each number's explanation line by its kind and provider, whatever the
providers are called and however pricing words the line."""

import pytest

from marketplace.web.results import explain
from pricing.explanation import Line


def lines(names: dict[str, str]) -> list[dict]:
    one, two, three = names["1"], names["2"], names["3"]
    return [
        Line(
            "left_out",
            f"Left out {three}",
            "its data lowers your metric (value -0.0642); it is not paid.",
            provider="3",
        ),
        Line("bundle", "Bundle", f"{one}, {two}."),
        Line("lift", "Lift", "22.00 points over your baseline (95% interval 11.50 to 31.00)."),
        Line("price", "Price", "5,750 cents, within your budget of 20,000 cents."),
        Line("fee", "Platform fee", "10% of 5,750 cents, rounded down: 575 cents."),
        Line(
            "provider",
            one,
            "share 27.27% (Shapley value +0.0600) → 1,411 cents; reserve 100 cents met.",
            provider="1",
        ),
        Line("provider", two, "share 72.73% (Shapley value +0.1600) → 3,764 cents.", provider="2"),
        Line(
            "refund",
            "Withheld by the replication penalty",
            "10 cents, refunded to you; you pay 5,740 cents net.",
        ),
        Line("check", "Check", "5,750 charged = 1,411 + 3,764 to providers + 575 fee + 0 reserve."),
    ]


@pytest.mark.parametrize(
    "names",
    [
        {"1": "1", "2": "2", "3": "3"},
        # Titles that read like other lines' headings must not move a line.
        {"1": "Check: spring (#1)", "2": "Lift (#2)", "3": "Left out (#3)"},
    ],
    ids=["bare ids", "misleading titles"],
)
def test_each_line_lands_on_its_number(names):
    stored = [line.to_dict() for line in lines(names)]
    explained = explain(stored)
    assert explained.left_out == {
        "3": "Its data lowers your metric (value -0.0642); it is not paid."
    }
    assert explained.provider["1"] == (
        "Share 27.27% (Shapley value +0.0600) → $14.11; reserve $1.00 met."
    )
    assert explained.provider["2"].endswith("→ $37.64.")
    assert explained.general["price"] == "Price: $57.50, within your budget of $200.00."
    assert explained.general["fee"].endswith("rounded down: $5.75.")
    assert explained.general["refund"].startswith("Withheld by the replication penalty: $0.10")
    assert explained.general["check"] == (
        "Check: $57.50 charged = $14.11 + $37.64 to providers + $5.75 fee + $0.00 reserve."
    )
    assert explained.general["lift"].startswith("Lift: 22.00 points")
    assert explained.general["bundle"] == f"Bundle: {names['1']}, {names['2']}."
    assert len(explained.lines) == len(stored)
