"""Matching a quote's explanation lines to the numbers they explain."""

import pytest

from marketplace.web.results import explain

LINES = [
    "Left out {three}: its data lowers your metric (value -0.0642); it is not paid.",
    "Bundle: {one}, {two}.",
    "Lift: 22.00 points over your baseline (95% interval 11.50 points to 31.00 points).",
    "Price: 5,750 cents, within your budget of 20,000 cents.",
    "Platform fee: 10% of 5,750 cents, rounded down: 575 cents.",
    "{one}: share 27.27% (Shapley value +0.0600) → 1,411 cents; reserve 100 cents met.",
    "{two}: share 72.73% (Shapley value +0.1600) → 3,764 cents.",
    "Withheld by the replication penalty: 10 cents, refunded to you; you pay 5,740 cents net.",
    "Check: 5,750 charged = 1,411 + 3,764 to providers + 575 fee + 0 reserve + 0 refund.",
]


@pytest.mark.parametrize(
    "names",
    [
        {"one": "1", "two": "2", "three": "3"},
        {"one": "Clinic: spring (#1)", "two": "Lift (#2)", "three": "Left out (#3)"},
    ],
    ids=["bare ids", "titles"],
)
def test_each_line_lands_on_its_number(names):
    explained = explain([line.format(**names) for line in LINES])
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
        "Check: $57.50 charged = $14.11 + $37.64 to providers + $5.75 fee + $0.00 reserve "
        "+ $0.00 refund."
    )
    assert explained.general["lift"].startswith("Lift: 22.00 points")
    assert len(explained.lines) == len(LINES)
