"""The JSON depth check reads nesting exactly as JSON does, strings and escapes included."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from config.parsers import json_depth

# Text heavy in the characters that could fool a scan: brackets, quotes, backslashes.
tricky = st.text(alphabet='[]{}"\\ab', max_size=8)
documents = st.recursive(
    st.none() | st.integers() | tricky,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky, inner, max_size=3),
    max_leaves=20,
)


def depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(documents)
def test_json_depth_equals_the_parsed_documents_depth(value):
    assert json_depth(json.dumps(value).encode()) == depth(value)


def test_escaped_quotes_neither_open_strings_nor_cost_quadratic_time():
    # 200,000 escaped quotes: the first version's regular expression needed hours for this.
    body = b'{"a": "' + b'\\"[' * 200_000 + b'"}'
    assert json_depth(body) == 1
