"""The SVG charts draw what they are given: bars start at the zero line and point the way
their sign says, lengths are proportional, whiskers bracket the value, parts of a stacked
column add up, labels do not collide, and every text is escaped."""

import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from marketplace.web.charts import (
    Bar,
    Point,
    Segment,
    _spread,
    bar_chart,
    nice_ticks,
    stacked_column,
    step_curve,
)

NS = {"s": "http://www.w3.org/2000/svg"}
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))


@given(finite, finite, st.integers(min_value=2, max_value=10))
# Ranges narrower than the 12 digits ticks are written with: once a single tick, once four
# equal ones.
@example(999999.9999999999, 1e6, 5)
@example(1e5, 1e5 + 1e-10, 5)
def test_ticks_are_round_evenly_spaced_and_cover_the_range(a, b, count):
    low, high = min(a, b), max(a, b)
    ticks = nice_ticks(low, high, count)
    assert ticks[0] <= low + 1e-9 * max(1, abs(low)) and ticks[-1] >= high - 1e-9 * max(
        1, abs(high)
    )
    steps = [t1 - t0 for t0, t1 in zip(ticks, ticks[1:], strict=False)]
    step = steps[0]
    assert all(math.isclose(s, step, rel_tol=1e-6) for s in steps)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6
    assert len(ticks) <= count + 3


def rows(svg):
    root = parse(svg)
    zero = root.find(".//s:line[@class='zero']", NS)
    rects = root.findall(".//s:rect", NS)
    return root, float(zero.get("x1")), rects


bar_values = st.lists(
    st.tuples(st.floats(min_value=-50, max_value=50), st.floats(min_value=0, max_value=10)),
    min_size=1,
    max_size=6,
)


@given(bar_values)
def test_bars_grow_from_zero_in_the_direction_of_their_sign(values):
    bars = [Bar(f"d{i}", v, v - e, v + e) for i, (v, e) in enumerate(values)]
    svg = bar_chart(bars, chart_id="c", title="t", description="d", axis_format=str)
    root, zero, rects = rows(svg)
    assert len(rects) == len(bars)
    scale = None
    # Coordinates are written to 0.01 px, so two of them may disagree by that much.
    for bar, rect in zip(bars, rects, strict=True):
        x, width = float(rect.get("x")), float(rect.get("width"))
        if bar.value < 0:
            assert x + width == pytest.approx(zero, abs=0.011), "negative bars end at zero"
        else:
            assert x == pytest.approx(zero, abs=0.011), "positive bars start at zero"
        if abs(bar.value) > 1:  # proportional lengths (tiny bars get a 1px minimum)
            ratio = width / abs(bar.value)
            scale = scale or ratio
            assert ratio == pytest.approx(scale, rel=0.01)


def test_whiskers_bracket_the_value_and_exact_values_have_none():
    svg = bar_chart(
        [Bar("a", 4.0, 1.0, 9.0), Bar("b", -2.0, -2.0, -2.0)],
        chart_id="c",
        title="t",
        description="d",
        axis_format=str,
    )
    root, zero, rects = rows(svg)
    whiskers = root.findall(".//s:line[@class='whisker']", NS)
    assert len(whiskers) == 3, "one whisker (line + two caps) for the bar with an interval"
    span = whiskers[0]
    lo, hi = float(span.get("x1")), float(span.get("x2"))
    end = float(rects[0].get("x")) + float(rects[0].get("width"))
    assert lo < end < hi
    assert lo > zero, "the interval 1..9 lies right of zero"


def test_every_text_is_escaped_and_the_chart_is_labelled():
    nasty = '<script>alert("x")</script> & co'
    svg = bar_chart(
        [Bar(nasty, 1.0, 1.0, 1.0, note=nasty)],
        chart_id="evil",
        title=nasty,
        description=nasty,
        axis_format=str,
    )
    assert "<script>" not in svg
    root = parse(svg)  # well-formed XML
    assert root.get("role") == "img"
    ids = root.get("aria-labelledby").split()
    assert [root.find(f".//*[@id='{i}']", NS) is not None for i in ids] == [True, True]
    assert root.find("s:title", NS).text == nasty


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=7))
def test_stacked_parts_add_up_and_labels_do_not_collide(amounts):
    if sum(amounts) == 0:
        with pytest.raises(ValueError):
            stacked_column(
                [Segment("x", a, "fee") for a in amounts],
                chart_id="s",
                title="t",
                description="d",
                fmt=str,
            )
        return
    segments = [Segment(f"part {i}", a, f"p{i % 6}") for i, a in enumerate(amounts)]
    root = parse(stacked_column(segments, chart_id="s", title="t", description="d", fmt=str))
    rects = root.findall(".//s:rect", NS)
    shown = [a for a in amounts if a > 0]
    assert len(rects) == len(shown), "zero amounts are skipped"
    heights = [float(r.get("height")) for r in rects]
    total = sum(heights)
    for height, amount in zip(heights, shown, strict=True):
        assert height / total == pytest.approx(amount / sum(shown), abs=0.01)
    tops = [float(r.get("y")) for r in rects]
    assert tops == sorted(tops)
    labels = [float(t.get("y")) for t in root.findall(".//s:text[@class='label']", NS)]
    assert all(b - a >= 39.9 for a, b in zip(labels, labels[1:], strict=False))


@given(
    st.lists(st.floats(min_value=-1000, max_value=1000), min_size=1, max_size=12),
    st.floats(min_value=1, max_value=60),
)
def test_spread_keeps_order_and_gaps(wanted, gap):
    wanted = sorted(wanted)
    low, high = -1000.0, -1000.0 + gap * (len(wanted) + 5) + 2000
    placed = _spread(wanted, gap, low, high)
    assert placed == sorted(placed)
    assert all(b - a >= gap - 1e-9 for a, b in zip(placed, placed[1:], strict=False))
    assert low - 1e-9 <= placed[0] and placed[-1] <= high + 1e-9


def test_the_curve_steps_up_and_rings_the_offer():
    points = [
        Point(500, 4.0, "b"),
        Point(0, 1.0, "a"),
        Point(1500, 9.0, "c", highlight=True),
    ]
    root = parse(
        step_curve(
            points,
            chart_id="k",
            title="t",
            description="d",
            x_format=str,
            y_format=str,
            x_marker=(2000, "budget"),
        )
    )
    path = root.find(".//s:path[@class='curve']", NS).get("d")
    assert path.startswith("M")
    circles = root.findall(".//s:circle", NS)
    xs = [float(c.get("cx")) for c in circles]
    ys = [float(c.get("cy")) for c in circles]
    assert xs == sorted(xs), "points drawn left to right by price"
    assert ys == sorted(ys, reverse=True), "more spend, more lift (higher on screen)"
    highlighted = [c for c in circles if "highlight" in c.get("class")]
    assert len(highlighted) == 1 and highlighted[0].find("s:title", NS).text == "c"
    marker = root.find(".//s:line[@class='marker']", NS)
    assert float(marker.get("x1")) > max(xs), "the budget lies beyond every price"
