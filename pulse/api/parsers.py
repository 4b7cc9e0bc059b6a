"""The API's JSON parser, with limits on size and depth.

Why: a body nested 50,000 levels deep (100 KB) made ``json.loads`` raise ``RecursionError``, a 500 from the
unauthenticated check-in API. Here it answers 400 in the API's error format, before any view code runs.
Pulse's own bodies are a few levels deep (an instrument's questions and options at most). The size limit
is Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``, which DRF applies when it reads the body; the error handler
words it (``pulse.api.errors``).
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def _depth_exceeds(data: Any, limit: int) -> bool:
    """True if ``data`` nests deeper than ``limit`` lists or objects (iterative: no recursion to exhaust)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"The JSON is nested too deeply (at most {MAX_DEPTH} levels).") from None
        if _depth_exceeds(data, MAX_DEPTH):
            raise ParseError(f"The JSON is nested too deeply (at most {MAX_DEPTH} levels).")
        return data
