"""Read a `support-matching/1` instance into frozen dataclasses, or say everything wrong with it.

Validation never stops at the first problem: a consultant exporting a broken run wants the
whole list at once, one line per problem, each naming the path in the document
(`needs[3].priority: must be an integer 1-5, got 7`). Unknown fields are ignored, as the
contract says readers must.

Decisions the spec leaves open (kept deliberately lenient where nothing can go wrong):

- `current_provider` naming a provider that is not in the instance is accepted: the continuity
  bonus simply never applies (the former provider may have left the pool since).
- `excluded_providers` naming unknown providers is accepted for the same reason: excluding
  someone absent cannot change the answer.
- `separate_from` naming an unknown need, or the need itself, is an error: a safety rule that
  silently points nowhere is more likely a broken export than an intention.
- `household` and `placement` are not used by any rule; they may be absent, but must be
  strings when present.
- `name` is required (the result echoes it); `format` must be exactly `support-matching/1`.
- Numbers must be finite; `minutes_per_session` and `sessions_per_week` must be positive, and
  capacities, session lengths, sessions per week and max_cases have generous ceilings (see
  MAX_* below) so the exact integer arithmetic of the capacity rows cannot overflow.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

FORMAT = "support-matching/1"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Sanity ceilings far beyond any real value (a week has 10,080 minutes). They exist so the
# solver's exact integer arithmetic (limits.py) can never overflow 64 bits.
MAX_CAPACITY = 1e9
MAX_SESSION_MINUTES = 10_080
MAX_SESSIONS_PER_WEEK = 1_000
MAX_CASES = 1_000_000
_TIME_RE = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")


class InstanceError(ValueError):
    """The instance cannot be used; `problems` holds one 'path: what is wrong' line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Window:
    """One availability window within one day, in minutes since local midnight."""

    day: int  # 0 = mon .. 6 = sun
    start: int
    end: int  # may be 1440 (24:00)


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    services: frozenset[str]
    competences: frozenset[str]
    languages: frozenset[str]
    location: Location
    max_travel_km: float
    offers_remote: bool
    capacity_minutes_per_week: float
    max_cases: int
    # Empty means "no availability given": time never rules a pair out.
    availability: tuple[Window, ...]

    @property
    def capacity(self) -> Fraction:
        return exact(self.capacity_minutes_per_week)


@dataclass(frozen=True, slots=True)
class Need:
    id: str
    service: str
    household: str | None
    placement: str | None
    location: Location
    availability: tuple[Window, ...]
    minutes_per_session: float
    sessions_per_week: float
    required_competences: frozenset[str]
    preferred_competences: frozenset[str]
    language: str
    remote_ok: bool
    priority: int
    current_provider: str | None
    excluded_providers: frozenset[str]
    # As listed by this need only; Instance.separations holds the symmetric closure.
    separate_from: frozenset[str]

    @property
    def load(self) -> Fraction:
        """Minutes per week, exactly as the decimal numbers in the document say."""
        return exact(self.minutes_per_session) * exact(self.sessions_per_week)


@dataclass(frozen=True)
class Instance:
    name: str
    providers: tuple[Provider, ...]
    needs: tuple[Need, ...]
    # Index pairs (i < j) of needs that must not share a provider, deduplicated, both
    # directions of `separate_from` folded together (the rule is symmetric).
    separations: tuple[tuple[int, int], ...] = ()
    provider_index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    need_index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)


def exact(x: int | float) -> Fraction:
    """The exact decimal value a JSON number was written as.

    Floats go through their shortest repr, so 0.1 is 1/10 rather than the nearest binary
    fraction: loads then add up the way a person reading the file expects, and the 1e-6
    capacity tolerance can be applied exactly (see solver.capacity_rows).
    """
    if isinstance(x, int):
        return Fraction(x)
    return Fraction(repr(float(x)))


# --- validation helpers -------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A short JSON rendering of an offending value for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Reader:
    """Collects problems while reading; each getter returns None when the value is unusable."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def field(self, obj: dict, key: str, path: str, *, required: bool) -> tuple[bool, Any]:
        if key not in obj:
            if required:
                self.bad(f"{path}.{key}", "required field is missing")
            return False, None
        return True, obj[key]

    def string(
        self, obj: dict, key: str, path: str, *, required: bool = True, nullable: bool = False
    ) -> str | None:
        present, value = self.field(obj, key, path, required=required)
        if not present or (value is None and nullable):
            return None
        if not isinstance(value, str) or not value:
            self.bad(f"{path}.{key}", f"must be a non-empty string, got {_show(value)}")
            return None
        return value

    def boolean(self, obj: dict, key: str, path: str) -> bool | None:
        # Absent (or null) means false, as the spec says for remote_ok / offers_remote.
        present, value = self.field(obj, key, path, required=False)
        if not present or value is None:
            return False
        if not isinstance(value, bool):
            self.bad(f"{path}.{key}", f"must be true or false, got {_show(value)}")
            return None
        return value

    def number(
        self, obj: dict, key: str, path: str, *, minimum: float, strict: bool, maximum: float | None = None
    ) -> float | None:
        present, value = self.field(obj, key, path, required=True)
        if not present:
            return None
        low = _is_number(value) and (value <= minimum if strict else value < minimum)
        if not _is_number(value) or low or (maximum is not None and value > maximum):
            relation = "greater than" if strict else "at least"
            upper = f" and at most {maximum:g}" if maximum is not None else ""
            self.bad(f"{path}.{key}", f"must be a number {relation} {minimum:g}{upper}, got {_show(value)}")
            return None
        return value

    def integer(self, obj: dict, key: str, path: str, *, lo: int, hi: int | None) -> int | None:
        present, value = self.field(obj, key, path, required=True)
        if not present:
            return None
        ok = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and value >= lo
            and (hi is None or value <= hi)
        )
        if not ok:
            wanted = f"an integer {lo}-{hi}" if hi is not None else f"an integer >= {lo}"
            self.bad(f"{path}.{key}", f"must be {wanted}, got {_show(value)}")
            return None
        return value

    def string_set(self, obj: dict, key: str, path: str, *, required: bool) -> frozenset[str] | None:
        # Optional lists may also be null: "absent (= null / empty)".
        present, value = self.field(obj, key, path, required=required)
        if not present or (value is None and not required):
            return frozenset()
        if not isinstance(value, list):
            self.bad(f"{path}.{key}", f"must be a list of strings, got {_show(value)}")
            return None
        ok = True
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.bad(f"{path}.{key}[{i}]", f"must be a non-empty string, got {_show(item)}")
                ok = False
        return frozenset(value) if ok else None

    def location(self, obj: dict, path: str) -> Location | None:
        present, value = self.field(obj, "location", path, required=True)
        if not present:
            return None
        where = f"{path}.location"
        if not isinstance(value, dict):
            self.bad(where, f"must be an object with lat and lon, got {_show(value)}")
            return None
        lat = self._coordinate(value, "lat", where, 90.0)
        lon = self._coordinate(value, "lon", where, 180.0)
        if lat is None or lon is None:
            return None
        return Location(float(lat), float(lon))

    def _coordinate(self, obj: dict, key: str, path: str, limit: float) -> float | None:
        present, value = self.field(obj, key, path, required=True)
        if not present:
            return None
        if not _is_number(value) or not -limit <= value <= limit:
            self.bad(
                f"{path}.{key}", f"must be a number between {-limit:g} and {limit:g}, got {_show(value)}"
            )
            return None
        return value

    def availability(self, obj: dict, path: str) -> tuple[Window, ...] | None:
        present, value = self.field(obj, "availability", path, required=False)
        if not present or value is None:
            return ()
        where = f"{path}.availability"
        if not isinstance(value, list):
            self.bad(where, f"must be a list of windows or null, got {_show(value)}")
            return None
        windows: list[Window] = []
        ok = True
        for i, item in enumerate(value):
            window = self._window(item, f"{where}[{i}]")
            if window is None:
                ok = False
            else:
                windows.append(window)
        return tuple(windows) if ok else None

    def _window(self, item: Any, path: str) -> Window | None:
        if not isinstance(item, dict):
            self.bad(path, f"must be an object with day, from and to, got {_show(item)}")
            return None
        day = item.get("day")
        ok = True
        if "day" not in item:
            self.bad(f"{path}.day", "required field is missing")
            ok = False
        elif day not in DAYS:
            self.bad(f"{path}.day", f"must be one of {', '.join(DAYS)}, got {_show(day)}")
            ok = False
        start = self._clock(item, "from", path)
        end = self._clock(item, "to", path)
        if start is not None and end is not None and start >= end:
            self.bad(path, f"'from' ({item['from']}) must be before 'to' ({item['to']}) within one day")
            ok = False
        if start is not None and start == 1440:
            self.bad(f"{path}.from", "24:00 is only allowed as 'to'")
            ok = False
        if not ok or start is None or end is None:
            return None
        return Window(DAYS.index(day), start, end)

    def _clock(self, obj: dict, key: str, path: str) -> int | None:
        present, value = self.field(obj, key, path, required=True)
        if not present:
            return None
        match = _TIME_RE.match(value) if isinstance(value, str) else None
        if match is None:
            self.bad(f"{path}.{key}", f"must be a time HH:MM between 00:00 and 24:00, got {_show(value)}")
            return None
        hours, minutes = (
            (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        )
        return int(hours) * 60 + int(minutes)


# --- the instance -------------------------------------------------------------------------------


def parse_instance(data: Any) -> Instance:
    """Validate a decoded JSON document and build the Instance; raise InstanceError otherwise."""
    r = _Reader()
    if not isinstance(data, dict):
        raise InstanceError([f"(document): must be a JSON object, got {_show(data)}"])

    if data.get("format") != FORMAT:
        if "format" not in data:
            r.bad("format", f"required field is missing (expected {_show(FORMAT)})")
        else:
            r.bad("format", f"must be {_show(FORMAT)}, got {_show(data.get('format'))}")
    name = data.get("name")
    if not isinstance(name, str):
        r.bad(
            "name",
            "required field is missing" if "name" not in data else f"must be a string, got {_show(name)}",
        )

    providers = _parse_list(r, data, "providers", _parse_provider)
    needs = _parse_list(r, data, "needs", _parse_need)

    provider_index = _index_ids(r, "providers", providers)
    need_index = _index_ids(r, "needs", needs)

    separations: set[tuple[int, int]] = set()
    for i, need in enumerate(needs):
        if need is None:
            continue
        for other in sorted(need.separate_from):
            path = f"needs[{i}].separate_from"
            if other == need.id:
                r.bad(path, f"a need cannot be kept apart from itself ({_show(other)})")
            elif other not in need_index:
                r.bad(path, f"unknown need id {_show(other)}")
            else:
                k = need_index[other]
                separations.add((min(i, k), max(i, k)))

    if r.problems:
        raise InstanceError(r.problems)
    return Instance(
        name=name,
        providers=tuple(providers),
        needs=tuple(needs),
        separations=tuple(sorted(separations)),
        provider_index=provider_index,
        need_index=need_index,
    )


def _parse_list(r: _Reader, data: dict, key: str, parse_item) -> list:
    if key not in data:
        r.bad(key, "required field is missing")
        return []
    value = data[key]
    if not isinstance(value, list):
        r.bad(key, f"must be a list, got {_show(value)}")
        return []
    return [parse_item(r, item, f"{key}[{i}]") for i, item in enumerate(value)]


def _index_ids(r: _Reader, key: str, items: list) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, item in enumerate(items):
        if item is None:
            continue
        if item.id in index:
            r.bad(f"{key}[{i}].id", f"duplicate id {_show(item.id)} (first used at {key}[{index[item.id]}])")
        else:
            index[item.id] = i
    return index


def _parse_provider(r: _Reader, obj: Any, path: str) -> Provider | None:
    if not isinstance(obj, dict):
        r.bad(path, f"must be an object, got {_show(obj)}")
        return None
    before = len(r.problems)
    values = dict(  # noqa: C408 - keyword form reads as the field list
        id=r.string(obj, "id", path),
        services=r.string_set(obj, "services", path, required=True),
        competences=r.string_set(obj, "competences", path, required=True),
        languages=r.string_set(obj, "languages", path, required=True),
        location=r.location(obj, path),
        max_travel_km=r.number(obj, "max_travel_km", path, minimum=0, strict=False),
        offers_remote=r.boolean(obj, "offers_remote", path),
        capacity_minutes_per_week=r.number(
            obj, "capacity_minutes_per_week", path, minimum=0, strict=False, maximum=MAX_CAPACITY
        ),
        max_cases=r.integer(obj, "max_cases", path, lo=0, hi=MAX_CASES),
        availability=r.availability(obj, path),
    )
    if len(r.problems) > before:
        # The id is still worth knowing for duplicate checks, but nothing else is usable.
        return _IdOnly(values["id"]) if values["id"] is not None else None
    return Provider(**values)


def _parse_need(r: _Reader, obj: Any, path: str) -> Need | None:
    if not isinstance(obj, dict):
        r.bad(path, f"must be an object, got {_show(obj)}")
        return None
    before = len(r.problems)
    values = dict(  # noqa: C408 - keyword form reads as the field list
        id=r.string(obj, "id", path),
        service=r.string(obj, "service", path),
        household=r.string(obj, "household", path, required=False, nullable=True),
        placement=r.string(obj, "placement", path, required=False, nullable=True),
        location=r.location(obj, path),
        availability=r.availability(obj, path),
        minutes_per_session=r.number(
            obj, "minutes_per_session", path, minimum=0, strict=True, maximum=MAX_SESSION_MINUTES
        ),
        sessions_per_week=r.number(
            obj, "sessions_per_week", path, minimum=0, strict=True, maximum=MAX_SESSIONS_PER_WEEK
        ),
        required_competences=r.string_set(obj, "required_competences", path, required=True),
        preferred_competences=r.string_set(obj, "preferred_competences", path, required=False),
        language=r.string(obj, "language", path),
        remote_ok=r.boolean(obj, "remote_ok", path),
        priority=r.integer(obj, "priority", path, lo=1, hi=5),
        current_provider=r.string(obj, "current_provider", path, required=False, nullable=True),
        excluded_providers=r.string_set(obj, "excluded_providers", path, required=False),
        separate_from=r.string_set(obj, "separate_from", path, required=False),
    )
    if len(r.problems) > before:
        return _IdOnly(values["id"]) if values["id"] is not None else None
    return Need(**values)


@dataclass(frozen=True, slots=True)
class _IdOnly:
    """Stand-in for an item with problems, so duplicate ids and references are still checked."""

    id: str
    separate_from: frozenset[str] = frozenset()
