"""A dataset's quality document: every document round-trips through JSON, and one of another
version, with unknown or missing keys, or a value of the wrong type is refused by name."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.quality import DatasetQuality, IntrinsicReport, MeasuredRemoval
from tests.valuation_core.test_detection import screen_numbers

rows = st.lists(st.integers(0, 10_000), max_size=5).map(tuple)
scores = st.floats(-1, 1)
reports = st.builds(
    IntrinsicReport,
    n_rows=st.integers(4, 10_000),
    scorer=st.sampled_from(["accuracy", "r2"]),
    suspects=st.lists(
        st.fixed_dictionaries(
            {"row": st.integers(0, 10_000), "fold": st.integers(0, 1), "consensus": scores},
            optional={"knn-shapley": scores, "data-oob": scores, "lava": scores},
        ),
        max_size=4,
    ).map(tuple),
    duplicates=rows,
    label_conflicts=st.lists(rows, max_size=3).map(tuple),
    outliers=rows,
    removals=st.lists(
        st.builds(
            MeasuredRemoval,
            st.sampled_from(["suspects", "duplicates", "outliers", "all"]),
            rows,
            scores,
            scores,
            scores,
        ),
        max_size=4,
    ).map(tuple),
)
documents = st.builds(
    DatasetQuality,
    duplicate_rows_within_file=st.integers(0, 10**9),
    overlap_with_other_providers=st.floats(0, 1),
    screening=st.none() | screen_numbers,
    report=st.none() | reports,
)


@given(documents)
def test_a_quality_document_round_trips_through_json(quality):
    stored = json.loads(json.dumps(quality.to_dict()))
    assert stored["version"] == DatasetQuality.VERSION
    assert DatasetQuality.from_dict(stored) == quality


UPLOADED = DatasetQuality(duplicate_rows_within_file=0, overlap_with_other_providers=0.0)


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"version": 1}, "a quality document of version 1; this reads 2"),
        ({"similar_to": {}}, "unknown keys of DatasetQuality: similar_to"),
        ({"screening": {"similar_to": {}, "flips": None}}, "unknown keys of .*screening: flips"),
        ({"screening": {"similar_to": {"3": "high"}}}, r"screening.similar_to\['3'\] cannot be"),
        ({"duplicate_rows_within_file": 1.5}, "duplicate_rows_within_file cannot be 1.5"),
        ({"report": {"n_rows": 80}}, "DatasetQuality.report lacks"),
    ],
)
def test_another_version_or_layout_is_refused_by_name(change, refusal):
    with pytest.raises(ValueError, match=refusal):
        DatasetQuality.from_dict({**UPLOADED.to_dict(), **change})


def test_a_document_without_an_upload_number_is_refused():
    stored = UPLOADED.to_dict()
    del stored["overlap_with_other_providers"]
    with pytest.raises(ValueError, match="lacks overlap_with_other_providers"):
        DatasetQuality.from_dict(stored)
