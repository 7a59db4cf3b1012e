"""Search parameters as users give them -> `SearchParams` in the shapes the STAC API uses.

Pure Python, no network: every check that can be made without asking the catalogue is made
here, and each error says what was wrong and how to write it instead. (Unknown collections
need the catalogue; see `stac.Catalogue`.)
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .base import SearchParameterError, SearchParams
from .geometry import (
    BBoxLike,
    GeoInterface,
    IntersectsLike,
    as_number,
    bbox_geometry,
    normalize_bbox,
    normalize_intersects,
)

__all__ = [
    "BBoxLike",
    "CloudCoverLike",
    "CollectionsLike",
    "DatetimeLike",
    "FilterLike",
    "GeoInterface",
    "IDsLike",
    "IntersectsLike",
    "QueryLike",
    "SortbyLike",
    "build_params",
    "bbox_geometry",
    "cloud_cover_matches",
    "cloud_cover_value",
    "filter_cloud_cover",
    "normalize_bbox",
    "normalize_cloud_cover",
    "normalize_collections",
    "normalize_datetime",
    "normalize_filter",
    "normalize_ids",
    "normalize_intersects",
    "normalize_query",
    "normalize_sortby",
]


DatetimeOrDate = _dt.datetime | _dt.date | str | None
DatetimeLike = DatetimeOrDate | tuple[DatetimeOrDate, DatetimeOrDate] | list[DatetimeOrDate]
CollectionsLike = str | Iterable[Any]
IDsLike = str | Iterable[str]
FilterLike = str | dict[str, Any]
QueryLike = dict[str, Any] | list[str]
SortbyLike = str | Sequence[str] | Sequence[dict[str, str]]
CloudCoverLike = float | tuple[float | None, float | None]

DATETIME_EXAMPLES = ("'2025-06-01', '2025-06-01T10:30:00Z', '2025-06' (a month), "
                     "'2025-06-01/2025-07-01' (a range), '2025-06-01/..' (open end), "
                     "'../2025-07-01' (open start), or (date(2025, 6, 1), None)")
QUERY_OPS = ("eq", "neq", "lt", "lte", "gt", "gte", "startsWith", "endsWith", "contains", "in")
FILTER_LANGS = ("cql2-text", "cql2-json")
CLOUD_COVER = "eo:cloud_cover"
MAX_LIMIT = 10_000


# --------------------------------------------------------------------------- datetime

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
_DATEISH = re.compile(r"^\d{4}-\d{2}-\d{2}([T ].*)?$", re.IGNORECASE)


def _utc(dt: _dt.datetime) -> _dt.datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=_dt.UTC)
    return dt.astimezone(_dt.UTC)


def _fmt(dt: _dt.datetime) -> str:
    dt = _utc(dt)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}"
    return text + "Z"


def _end_of(start: _dt.datetime, unit: str) -> _dt.datetime:
    if unit == "day":
        nxt = start + _dt.timedelta(days=1)
    elif unit == "month":
        nxt = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    else:
        nxt = start.replace(year=start.year + 1)
    return nxt - _dt.timedelta(microseconds=1)


def _parse_part(part: DatetimeOrDate, whole: Any,
                role: str) -> tuple[_dt.datetime, _dt.datetime] | None:
    """(earliest, latest) instant that `part` stands for; None for an open end."""
    if part is None:
        return None
    if isinstance(part, _dt.datetime):
        dt = _utc(part)
        return dt, dt
    if isinstance(part, _dt.date):
        start = _dt.datetime(part.year, part.month, part.day, tzinfo=_dt.UTC)
        return start, _end_of(start, "day")
    if not isinstance(part, str):
        raise SearchParameterError(
            f"datetime {role} {part!r} is a {type(part).__name__}; give a string, a datetime, "
            f"a date or None. Valid: {DATETIME_EXAMPLES}")
    text = part.strip()
    if text in ("", ".."):
        return None

    def bad(reason: str) -> SearchParameterError:
        where = f"{role} {text!r}" if str(whole) != text else repr(text)
        return SearchParameterError(
            f"datetime {where} is not a valid date/time ({reason}). Valid: {DATETIME_EXAMPLES}")

    partial = _PARTIAL.match(text)
    try:
        if partial:
            year, month = int(partial.group(1)), partial.group(2)
            if month is None:
                start = _dt.datetime(year, 1, 1, tzinfo=_dt.UTC)
                return start, _end_of(start, "year")
            start = _dt.datetime(year, int(month), 1, tzinfo=_dt.UTC)
            return start, _end_of(start, "month")
        if not _DATEISH.match(text):
            raise bad("expected YYYY-MM-DD, optionally followed by THH:MM:SS and a time zone")
        if len(text) == 10:
            d = _dt.date.fromisoformat(text)
            start = _dt.datetime(d.year, d.month, d.day, tzinfo=_dt.UTC)
            return start, _end_of(start, "day")
        dt = _utc(_dt.datetime.fromisoformat(text.replace("z", "Z")))
        return dt, dt
    except ValueError as err:
        raise bad(str(err)) from None


def normalize_datetime(value: DatetimeLike) -> str | None:
    """An RFC 3339 instant or interval ("start/end", ".." for an open end) in UTC.

    A date (or "2025-06", "2025") stands for the whole day (month, year); naive datetimes are
    taken as UTC. (None, None) and "../.." mean no time filter (None).
    """
    if isinstance(value, (_dt.datetime, _dt.date)):
        parts: list[Any] = [value]
    elif isinstance(value, str):
        parts = value.split("/")
    elif isinstance(value, (tuple, list)):
        parts = list(value)
    else:
        raise SearchParameterError(
            f"datetime must be a string, a datetime/date, or a (start, end) pair, not "
            f"{type(value).__name__}. Valid: {DATETIME_EXAMPLES}")
    if len(parts) == 1:
        if parts[0] is None or (isinstance(parts[0], str) and parts[0].strip() in ("", "..")):
            raise SearchParameterError(
                f"datetime {value!r} has no date in it. Valid: {DATETIME_EXAMPLES}")
        start, end = _parse_part(parts[0], value, "")  # type: ignore[misc]
        return _fmt(start) if start == end else f"{_fmt(start)}/{_fmt(end)}"
    if len(parts) != 2:
        raise SearchParameterError(
            f"datetime {value!r} has {len(parts)} parts; a range has two, start/end. "
            f"Valid: {DATETIME_EXAMPLES}")
    first = _parse_part(parts[0], value, "start")
    last = _parse_part(parts[1], value, "end")
    if first is None and last is None:
        return None
    if first is not None and last is not None and last[1] < first[0]:
        raise SearchParameterError(
            f"datetime range {value!r} ends ({_fmt(last[1])}) before it starts "
            f"({_fmt(first[0])}): swap start and end")
    start = _fmt(first[0]) if first else ".."
    end = _fmt(last[1]) if last else ".."
    return f"{start}/{end}"


def datetime_bounds(interval: str | None) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    """(start, end) of a normalised interval; None for an open end."""
    if not interval:
        return None, None
    parts = interval.split("/")
    if len(parts) == 1:
        parts = parts * 2

    def one(p: str) -> _dt.datetime | None:
        return None if p in ("", "..") else _dt.datetime.fromisoformat(p)

    return one(parts[0]), one(parts[1])


# --------------------------------------------------------------------------- collections, ids


def _strings(value: Any, what: str, example: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        items: list[Any] = [v.strip() for v in value.split(",")]
    else:
        try:
            items = list(value)
        except TypeError:
            raise SearchParameterError(
                f"{what} must be a string or a list of strings, not {value!r}; e.g. {example}"
            ) from None
    out = []
    for v in items:
        v = getattr(v, "id", v)  # pystac Collection objects
        if not isinstance(v, str) or not v.strip():
            raise SearchParameterError(
                f"{what} must be non-empty strings, got {v!r} in {value!r}; e.g. {example}")
        out.append(v.strip())
    return tuple(dict.fromkeys(out)) or None


def normalize_collections(value: CollectionsLike | None) -> tuple[str, ...] | None:
    """Collection ids from "a,b", ["a", "b"] or pystac Collections."""
    return _strings(value, "collections", "collections=['sentinel-2-l2a']")


def normalize_ids(value: IDsLike | None) -> tuple[str, ...] | None:
    """Item ids from "a,b" or ["a", "b"]."""
    return _strings(value, "ids", "ids=['S2A_33TTH_20250715_0_L2A']")


# --------------------------------------------------------------------------- filter, query


def normalize_filter(value: FilterLike, filter_lang: str | None = None
                     ) -> tuple[str | dict[str, Any], str]:
    """(filter, filter_lang): a CQL2 text string or CQL2 JSON dict, the language inferred
    (a dict or a string holding a JSON object is cql2-json). Checked with cql2 when installed."""
    if filter_lang is not None and filter_lang not in FILTER_LANGS:
        raise SearchParameterError(
            f"filter_lang {filter_lang!r} is unknown; use 'cql2-text' or 'cql2-json' (or leave "
            "it out: it is inferred from the filter)")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise SearchParameterError("filter is an empty string; leave it out or write CQL2, "
                                       "e.g. \"eo:cloud_cover < 20\"")
        if text.startswith("{") and filter_lang != "cql2-text":
            try:
                value = json.loads(text)
            except json.JSONDecodeError as err:
                raise SearchParameterError(
                    f"filter looks like CQL2 JSON but is not valid JSON ({err})") from None
        else:
            value = text
    if isinstance(value, Mapping):
        lang = "cql2-json"
        value = dict(value)
    elif isinstance(value, str):
        lang = "cql2-text"
    else:
        raise SearchParameterError(
            f"filter must be CQL2 text (a string) or CQL2 JSON (a dict), not "
            f"{type(value).__name__}")
    if filter_lang is not None and filter_lang != lang:
        raise SearchParameterError(
            f"filter_lang={filter_lang!r} but the filter is {lang}; leave filter_lang out to "
            "have it inferred")
    _validate_cql2(value)
    return value, lang


def _validate_cql2(value: str | dict[str, Any]) -> None:
    try:
        import cql2
    except ImportError:  # the catalogue will check it
        return
    try:
        if isinstance(value, str):
            cql2.parse_text(value)
        else:
            cql2.parse_json(json.dumps(value))
    except (cql2.ParseError, cql2.ValidationError, ValueError) as err:
        example = ("\"eo:cloud_cover < 20 AND platform = 'sentinel-2a'\"" if isinstance(value, str)
                   else "{'op': '<', 'args': [{'property': 'eo:cloud_cover'}, 20]}")
        raise SearchParameterError(
            f"filter is not valid CQL2 ({'text' if isinstance(value, str) else 'JSON'}):\n"
            f"{str(err).strip()}\nA valid one: {example}") from None


def cql2_to_json(value: str | dict[str, Any]) -> dict[str, Any] | None:
    """CQL2 JSON of a filter (None when it is text and cql2 is not installed)."""
    if isinstance(value, dict):
        return value
    try:
        import cql2
    except ImportError:
        return None
    return dict(cql2.parse_text(value).to_json())


def cql2_to_text(value: str | dict[str, Any]) -> str | None:
    """CQL2 text of a filter (None when it is JSON and cql2 is not installed)."""
    if isinstance(value, str):
        return value
    try:
        import cql2
    except ImportError:
        return None
    return str(cql2.parse_json(json.dumps(value)).to_text())


_QUERY_SYMBOLS = {">=": "gte", "<=": "lte", "<>": "neq", "!=": "neq", "=": "eq", ">": "gt",
                  "<": "lt"}


def normalize_query(value: QueryLike) -> dict[str, Any]:
    """A STAC API `query` extension object: {"eo:cloud_cover": {"lt": 20}}; also accepts
    ["eo:cloud_cover<20", "platform=sentinel-2a"] like pystac-client."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)):
        out: dict[str, dict[str, Any]] = {}
        for expr in value:
            match = re.match(r"^\s*([^<>=!\s]+)\s*(>=|<=|<>|!=|=|>|<)\s*(.+?)\s*$", str(expr))
            if not match:
                raise SearchParameterError(
                    f"query expression {expr!r} is not 'property<op>value' with op one of "
                    "= <> < <= > >=; e.g. 'eo:cloud_cover<20', or give a dict such as "
                    "{'eo:cloud_cover': {'lt': 20}}")
            prop, op, raw = match.groups()
            try:
                val: Any = json.loads(raw)
            except json.JSONDecodeError:
                val = raw.strip("'\"")
            out.setdefault(prop, {})[_QUERY_SYMBOLS[op]] = val
        value = out
    if not isinstance(value, Mapping) or not value:
        raise SearchParameterError(
            f"query must be a non-empty dict like {{'eo:cloud_cover': {{'lt': 20}}}}, not "
            f"{value!r}")
    for prop, ops in value.items():
        if not isinstance(ops, Mapping) or not ops:
            raise SearchParameterError(
                f"query[{prop!r}] must be a dict of operator -> value, e.g. {{'lt': 20}}; "
                f"got {ops!r}")
        unknown = [op for op in ops if op not in QUERY_OPS]
        if unknown:
            raise SearchParameterError(
                f"query[{prop!r}] has unknown operator(s) {unknown}; the query extension knows "
                f"{', '.join(QUERY_OPS)}")
    return {k: dict(v) for k, v in value.items()}


# --------------------------------------------------------------------------- sortby, cloud cover


def normalize_sortby(value: SortbyLike) -> tuple[str, ...]:
    """("-properties.eo:cloud_cover", "+datetime", ...): a sign and a field each."""
    if isinstance(value, str):
        parts: list[Any] = [p for p in value.split(",") if p.strip()]
    elif isinstance(value, Mapping):
        parts = [value]
    else:
        parts = list(value)
    if not parts:
        raise SearchParameterError("sortby is empty; e.g. sortby='-datetime' or "
                                   "sortby=['eo:cloud_cover', '-datetime']")
    out = []
    for part in parts:
        if isinstance(part, Mapping):
            field = str(part.get("field", "")).strip()
            direction = str(part.get("direction", "asc")).lower()
            if direction not in ("asc", "desc"):
                raise SearchParameterError(
                    f"sortby direction {direction!r} must be 'asc' or 'desc'")
            sign = "-" if direction == "desc" else "+"
        elif isinstance(part, str):
            part = part.strip()
            sign, field = (part[0], part[1:].strip()) if part[:1] in "+-" else ("+", part)
        else:
            raise SearchParameterError(
                f"sortby entries must be strings like '-datetime' or dicts like "
                f"{{'field': 'datetime', 'direction': 'desc'}}, not {part!r}")
        if not field or re.search(r"\s", field):
            raise SearchParameterError(
                f"sortby field {field!r} is not a property name; e.g. '-properties.eo:cloud_cover'")
        out.append(sign + field)
    return tuple(out)


def normalize_cloud_cover(value: CloudCoverLike) -> tuple[float | None, float | None]:
    """(min, max) percent from a maximum (20) or a (min, max) pair (None: open)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise SearchParameterError(
                f"cloud_cover {value!r} must be a maximum (e.g. 20) or a (min, max) pair "
                "(e.g. (0, 20); None for an open end)")
        low, high = value
    else:
        low, high = None, value
    bounds: list[float | None] = []
    for name, v in (("minimum", low), ("maximum", high)):
        if v is None:
            bounds.append(None)
            continue
        number = as_number(v, f"cloud_cover {name}")
        if not 0 <= number <= 100:
            raise SearchParameterError(
                f"cloud_cover {name} {number:g} is outside 0..100: eo:cloud_cover is a "
                "percentage (e.g. cloud_cover=20 for at most 20 %)")
        bounds.append(number)
    if bounds[0] is None and bounds[1] is None:
        raise SearchParameterError("cloud_cover (None, None) sets no bound; leave it out")
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        raise SearchParameterError(
            f"cloud_cover minimum {bounds[0]:g} is greater than maximum {bounds[1]:g}; swap them")
    return bounds[0], bounds[1]


def cloud_cover_value(properties: Mapping[str, Any]) -> float | None:
    """An item's eo:cloud_cover as a number (None when it has none or not a number)."""
    value = properties.get(CLOUD_COVER)
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def cloud_cover_matches(properties: Mapping[str, Any],
                        bounds: tuple[float | None, float | None]) -> bool:
    """Whether an item's eo:cloud_cover is within bounds (False when it has none, as in CQL2)."""
    value = cloud_cover_value(properties)
    if value is None:
        return False
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def filter_cloud_cover(items: Iterator[Any],
                       bounds: tuple[float | None, float | None] | None) -> Iterator[Any]:
    """The items (pystac Items) within cloud-cover `bounds`, checked on the client side; all of
    them when `bounds` is None."""
    if bounds is None:
        return items
    return (i for i in items if cloud_cover_matches(i.properties, bounds))


def cloud_cover_cql2(bounds: tuple[float | None, float | None]) -> dict[str, Any]:
    """CQL2 JSON for a cloud-cover range."""
    prop = {"property": CLOUD_COVER}
    args = []
    if bounds[0] is not None:
        args.append({"op": ">=", "args": [prop, bounds[0]]})
    if bounds[1] is not None:
        args.append({"op": "<=", "args": [prop, bounds[1]]})
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


def cloud_cover_text(bounds: tuple[float | None, float | None]) -> str:
    """CQL2 text for a cloud-cover range."""
    parts = []
    if bounds[0] is not None:
        parts.append(f"{CLOUD_COVER} >= {bounds[0]:g}")
    if bounds[1] is not None:
        parts.append(f"{CLOUD_COVER} <= {bounds[1]:g}")
    return " AND ".join(parts)


def cloud_cover_query(bounds: tuple[float | None, float | None]) -> dict[str, Any]:
    """Query-extension operators for a cloud-cover range."""
    ops: dict[str, float] = {}
    if bounds[0] is not None:
        ops["gte"] = bounds[0]
    if bounds[1] is not None:
        ops["lte"] = bounds[1]
    return {CLOUD_COVER: ops}


# --------------------------------------------------------------------------- all of them


def build_params(
    *,
    bbox: BBoxLike | None = None,
    intersects: IntersectsLike | None = None,
    datetime: DatetimeLike | None = None,
    collections: CollectionsLike | None = None,
    ids: IDsLike | None = None,
    filter: FilterLike | None = None,
    filter_lang: str | None = None,
    query: QueryLike | None = None,
    sortby: SortbyLike | None = None,
    cloud_cover: CloudCoverLike | None = None,
    max_items: int | None = 100,
    limit: int | None = None,
) -> SearchParams:
    """Check and normalise every search parameter (no network)."""
    box = normalize_bbox(bbox) if bbox is not None else None
    geometry = normalize_intersects(intersects) if intersects is not None else None
    if box is not None and geometry is not None:
        raise SearchParameterError(
            "give either bbox= or intersects=, not both (the STAC API allows only one)")
    if box is not None and box[0] > box[2]:  # across the antimeridian
        geometry, box = bbox_geometry(box), None
    for name, v in (("max_items", max_items), ("limit", limit)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            unlimited = " (or None for no limit)" if name == "max_items" else ""
            raise SearchParameterError(f"{name} must be a positive integer{unlimited}, not {v!r}")
    if limit is not None and limit > MAX_LIMIT:
        raise SearchParameterError(f"limit (page size) {limit} is above {MAX_LIMIT}, the most "
                                   "a STAC API page may hold")
    flt, lang = normalize_filter(filter, filter_lang) if filter is not None else (None, None)
    if filter is None and filter_lang is not None:
        raise SearchParameterError("filter_lang was given without a filter")
    return SearchParams(
        bbox=box,
        intersects=geometry,
        datetime=normalize_datetime(datetime) if datetime is not None else None,
        collections=normalize_collections(collections),
        ids=normalize_ids(ids),
        filter=flt,
        filter_lang=lang,
        query=normalize_query(query) if query is not None else None,
        sortby=normalize_sortby(sortby) if sortby is not None else None,
        max_items=max_items,
        limit=limit,
        cloud_cover=normalize_cloud_cover(cloud_cover) if cloud_cover is not None else None,
    )
