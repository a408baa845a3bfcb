"""Request parsers of the API: DRF's, with limits applied before anything is parsed.

This module imports no DRF view (the REST_FRAMEWORK setting names it, and DRF's views read
that setting when they are imported).
"""

from __future__ import annotations

import io

import numpy as np
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

#: Deepest nesting of arrays and objects a JSON body may have; no request of the API needs
#: more than a few levels, and Python's parser recurses once per level.
MAX_JSON_DEPTH = 32


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in ``body`` (brackets inside strings do not
    count), in linear time without parsing: a quote opens or closes a string unless an odd
    run of backslashes escapes it. (A regular expression over the strings took time
    quadratic in the number of escaped quotes: 20 s for 40,000 of them.)"""
    codes = np.frombuffer(body, dtype=np.uint8)
    if codes.size == 0:
        return 0
    position = np.arange(codes.size)
    backslash = codes == ord("\\")
    # The last non-backslash at or before each position; the run of backslashes just
    # before position i is then i - 1 - that index at i - 1.
    last_other = np.maximum.accumulate(np.where(backslash, -1, position))
    run = np.zeros(codes.size, dtype=np.int64)
    run[1:] = position[:-1] - last_other[:-1]
    quote = (codes == ord('"')) & (run % 2 == 0)
    outside = np.cumsum(quote) % 2 == 0  # a closing quote counts as outside, harmlessly
    step = np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
    step -= np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(np.where(outside, step, 0)).max(initial=0))


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser, refusing with a 400 before parsing a body nested deeper than
    :data:`MAX_JSON_DEPTH` (50,000 levels made the parser raise RecursionError: a 500).
    The body's size is bounded before it gets here: DRF reads it through Django's
    ``request.body``, which refuses more than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (answered 413
    in the API's error shape by :func:`config.api.api_exception_handler`)."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        if json_depth(body) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
        return super().parse(io.BytesIO(body), media_type, parser_context)
