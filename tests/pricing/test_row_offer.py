"""A row offer reads back as it was stored, and another layout is refused by name."""

import json
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.row_offer import RowOffer
from pricing.settlement import settle

dataset_ids = st.integers(1, 10**6).map(str)


@st.composite
def row_offers(draw) -> RowOffer:
    rows = draw(
        st.dictionaries(dataset_ids, st.lists(st.integers(0, 10**6), max_size=5).map(tuple))
    )
    cents = {dataset: draw(st.integers(1, 10**6)) for dataset in rows}
    charge = sum(cents.values())
    return RowOffer(
        budget_cents=draw(st.integers(charge, charge + 10**6)),
        rows=rows,
        value=draw(st.floats(-1, 1)),
        price_cents=charge,
        row_cents=cents,
        settlement=settle(
            charge,
            {d: Fraction(c, charge) for d, c in cents.items()},
            fee_bps=draw(st.integers(0, 10_000)),
        )
        if charge
        else None,
        key=draw(st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)),
    )


@given(row_offers())
def test_a_stored_row_offer_reads_back_as_it_was_written(offer):
    stored = json.loads(json.dumps(offer.to_dict()))
    assert stored["version"] == RowOffer.VERSION
    assert RowOffer.from_dict(stored) == offer


def test_another_version_and_unknown_or_missing_keys_are_refused():
    offer = RowOffer(
        budget_cents=100,
        rows={},
        value=0.0,
        price_cents=0,
        row_cents={},
        settlement=None,
        key="0" * 16,
    ).to_dict()
    with pytest.raises(ValueError, match="row offer of version None; this reads 2"):
        RowOffer.from_dict({key: value for key, value in offer.items() if key != "version"})
    with pytest.raises(ValueError, match="row offer of version 1; this reads 2"):
        RowOffer.from_dict({**offer, "version": 1})
    with pytest.raises(ValueError, match=r"unknown keys \['rows_of'\] and without \[\]"):
        RowOffer.from_dict({**offer, "rows_of": {}})
    with pytest.raises(ValueError, match=r"unknown keys \[\] and without \['key'\]"):
        RowOffer.from_dict({key: value for key, value in offer.items() if key != "key"})
