"""Request parsers of the API: DRF's, with limits applied before anything is parsed.

This module imports no DRF view (the REST_FRAMEWORK setting names it, and DRF's views read
that setting when they are imported).
"""

from __future__ import annotations

import io
import re

import numpy as np
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

#: Deepest nesting of arrays and objects a JSON body may have; no request of the API needs
#: more than a few levels, and Python's parser recurses once per level.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in ``body`` (brackets inside strings do not
    count), read in one linear pass without parsing."""
    codes = np.frombuffer(_JSON_STRING.sub(b'""', body), dtype=np.uint8)
    step = np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
    step -= np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


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
