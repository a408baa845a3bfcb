"""The worked examples of docs/pricing.md are the code's own output."""

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "pricing.md"


def test_pricing_doc_examples_run_and_match():
    result = doctest.testfile(
        str(DOC), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.attempted > 10
    assert result.failed == 0
