"""Reading what a request sends, once for every route: JSON bodies (an object, not too deep),
positions (finite degrees in range) and database ids in URLs (1 .. 2^31-1). What a client
sends wrong is a user error with a 4xx answer, never a 500."""

from __future__ import annotations

import json
import math

from flask import Request, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from ..domain.errors import FindingError, RequestError

# Our deepest real body is a MultiPolygon inside a feature (about 6 levels); 32 leaves room and
# keeps every later step (shapely, jsonify, the audit's json.dumps) far from the interpreter's
# recursion limit, which a body 200,000 levels deep would otherwise hit inside the parser.
MAX_DEPTH = 32
# Ids and versions are INTEGER columns: the largest value PostgreSQL stores in one (SQLite would
# take 2^63-1); a larger one would reach the database and fail there.
MAX_ID = 2**31 - 1


def _refuse_constant(name: str):
    # Python's json reads NaN and Infinity, which no JSON client sends and no column can hold
    raise ValueError(f"{name} is not JSON")


def json_object(required: bool = True) -> dict:
    """The body as a JSON object. A body that is not JSON, not an object or nests deeper than
    MAX_DEPTH is refused (400); without a JSON body, {} when the route allows none."""
    if not request.is_json or not request.get_data(cache=True).strip():
        if required:
            raise RequestError("The request needs a JSON object")
        return {}
    try:
        data = json.loads(request.get_data(cache=True), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):   # RecursionError: nested deeper than the parser's stack
        raise RequestError("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise RequestError("The request needs a JSON object")
    if depth_exceeds(data, MAX_DEPTH):
        raise RequestError("The request nests deeper than {n} levels", n=MAX_DEPTH)
    return data


def depth_exceeds(value, limit: int) -> bool:
    """Whether lists and objects nest deeper than `limit`, found without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


RANGES = {"lon": (-180.0, 180.0), "lat": (-90.0, 90.0)}


def coordinate(data: dict, key: str) -> float | None:
    """`lon` or `lat` of a body as a float, None when absent; a bool, text, list, object, or a
    number outside the globe is refused (422)."""
    value = data.get(key)
    if value is None:
        return None
    low, high = RANGES[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise FindingError("The position must be numbers: lon from -180 to 180, lat from -90 to 90")
    return float(value)


def position(data: dict) -> tuple[float, float]:
    """(lon, lat) that a body must carry."""
    lon, lat = coordinate(data, "lon"), coordinate(data, "lat")
    if lon is None or lat is None:
        raise FindingError("A finding needs its position (lon, lat)")
    return lon, lat


def stored_int(value) -> bool:
    """Whether a body's value is an integer a database column can hold (versions, ids)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


class DatabaseId(BaseConverter):
    """`<id:name>` in a route: 1 .. MAX_ID. Anything longer or larger does not match, so the
    answer is the route's 404, not a database overflow; the length bound also keeps int()
    away from its limit on digit strings."""

    regex = r"[0-9]{1,10}"
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            # not ValidationError: the router would then answer 405 wherever another method's
            # route has the same shape (DELETE /photos/<id> beside GET)
            raise NotFound()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


def text(data: dict, key: str) -> str | None:
    """A body's free text (a reason, a name) or None; a number, list or object is refused
    rather than stored or handed to the database as it is."""
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise RequestError("{key} must be text", key=key)


def members(data: dict, key: str) -> dict:
    """A body's object under `key` (a feature's properties, a field mapping), {} when absent."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError("{key} must be a JSON object", key=key)
    return value


class FormRequest(Request):
    """Flask's request, refusing a form with a nameless part: werkzeug reads a part whose
    Content-Disposition it cannot parse with the name None, on which the CSRF check (which
    looks through the form's names) would fail with a 500 before any route is reached."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        if None in self.form or None in self.files:
            raise RequestError("A form field has no name")
