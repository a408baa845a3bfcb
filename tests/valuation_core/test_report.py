"""The insight report's records: a stored report reads back as it was written, another
layout is refused by name, and every row reference is reached wherever it sits."""

import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valuation.core.report import (
    Debug,
    InsightReport,
    Misprediction,
    Prune,
    Record,
    RowRef,
    RowValues,
    Sensitivity,
    SuspectRemoval,
    map_rows,
)


def stored(report: InsightReport) -> dict:
    """The report as the database gives it back (JSON)."""
    return json.loads(json.dumps(report.to_dict()))


@settings(max_examples=60, deadline=None)
@given(st.from_type(InsightReport))
def test_a_stored_report_reads_back_as_it_was_written(report):
    back = InsightReport.from_dict(stored(report))
    # repr, not ==: it tells a tuple from a list and 1 from 1.0, and NaN reads as itself.
    assert repr(back) == repr(report)
    assert stored(back) == stored(report) or "NaN" in json.dumps(report.to_dict())


def small_report() -> InsightReport:
    removal = dict(
        score_before=0.6, score_after=0.7, change=0.1, change_lower=0.02, change_upper=0.2
    )
    return InsightReport(
        metric="accuracy",
        suspect_share=0.1,
        looked_at=("a",),
        prune=Prune(
            score=0.6,
            sources=(),
            suspects=SuspectRemoval(
                **removal,
                suggested=True,
                count=2,
                examined=10,
                training_rows=10,
                rows=(RowRef("a", 3), RowRef(None, 1)),
            ),
        ),
        debug=Debug(
            points=(Misprediction(0, 1, 0, drivers=(RowRef("a", 4, label=0, value=-0.5),)),),
            n_valid=5,
        ),
        sensitivity=Sensitivity(n_rows=10, error="a singular design"),
        rows=RowValues(k=5, by_source=()),
    )


def test_other_versions_unknown_and_missing_keys_and_wrong_values_are_refused_by_name():
    data = stored(small_report())
    with pytest.raises(ValueError, match="version None; this reads 2"):
        InsightReport.from_dict({key: value for key, value in data.items() if key != "version"})
    with pytest.raises(ValueError, match="version 1; this reads 2"):
        InsightReport.from_dict({**data, "version": 1})
    with pytest.raises(ValueError, match="unknown keys of InsightReport: future"):
        InsightReport.from_dict({**data, "future": []})
    broken = stored(small_report())
    del broken["debug"]["points"][0]["drivers"][0]["row"]
    with pytest.raises(ValueError, match=r"InsightReport.debug.points\[0\].drivers\[0\] lacks row"):
        InsightReport.from_dict(broken)
    broken = stored(small_report())
    broken["prune"]["suspects"]["count"] = "two"
    with pytest.raises(ValueError, match="InsightReport.prune.suspects.count cannot be 'two'"):
        InsightReport.from_dict(broken)
    broken = stored(small_report())
    broken["prune"]["suspects"]["suggested"] = 1
    with pytest.raises(ValueError, match="suggested cannot be 1"):
        InsightReport.from_dict(broken)


@dataclass(frozen=True)
class Later(Record):
    """A section the walk was not written for: row references nested in a dict of tuples."""

    nested: dict[str, tuple[RowRef, ...]]


def test_every_row_reference_is_reached_in_any_section_and_only_there():
    report = small_report()
    later = Later({"x": (RowRef("a", 7, label=1, value=0.25),)})
    hidden = map_rows((report, later), lambda ref: ref.hidden() if ref.player else ref)
    walked, later_walked = hidden
    assert walked.prune.suspects.rows == (RowRef("a", None), RowRef(None, 1))
    assert walked.debug.points[0].drivers == (RowRef("a", None, value=-0.5),)
    assert later_walked == Later({"x": (RowRef("a", None, value=0.25),)})
    assert type(walked) is InsightReport and type(later_walked.nested["x"]) is tuple
    # Everything but the row references is left as it was.
    assert walked.prune.suspects.count == 2 and walked.sensitivity == report.sensitivity
    assert report.prune.suspects.rows[0] == RowRef("a", 3), "the original is not changed"
    # And it is stored and read back without code of its own.
    assert Later.from_dict(json.loads(json.dumps(later.to_dict()))) == later
    with pytest.raises(ValueError, match=r"Later.nested\['x'\]\[0\] lacks row"):
        Later.from_dict({"nested": {"x": [{"player": "a"}]}})
