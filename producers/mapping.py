"""API user (randomuser JSON) -> Avro record of the contract. Pure functions.

The contract (``schemas/users_created-value.avsc``) decides which fields exist
and which may be null; this module only says where each one comes from in the
API's JSON. ``FIELD_RULES`` is a catalogue of what the API offers: the schema
picks from it, so adding an optional field the catalogue knows (``nationality``,
``cell``) is a schema-only pull request. A contract whose sidecar names another rules
module (``[source] rules``, :mod:`producers.rules`) is mapped with that module's
``FIELD_RULES``, built from the same :class:`FieldRule` and extractors (``string_at``,
``uuid_at``, ``timestamp_at``, ``date_at``, ``decimal_at``, ``enum_at``, ``record_of``).
A schema field without a rule is a :class:`ContractDriftError`; every record is also
validated against the parsed schema, so the two cannot drift silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from fastavro import parse_schema
from fastavro.validation import ValidationError, validate

from contract.catalog import Contract, load_contract
from producers.errors import ContractDriftError, MappingError
from producers.rules import rules_for

__all__ = [
    "FIELD_RULES",
    "ContractDriftError",
    "FieldRule",
    "MappedPage",
    "MappingError",
    "check_rules_cover",
    "date_at",
    "decimal_at",
    "enum_at",
    "map_users",
    "record_of",
    "string_at",
    "timestamp_at",
    "to_record",
    "uuid_at",
]

Extract = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class FieldRule:
    source: str  # where the value comes from in the API's JSON (for error messages)
    extract: Extract  # returns None when the API left the value out


def _getter(path: str) -> Extract:
    """The value at a dotted path; None when absent. A non-object on the way is an error.

    The path is split once, here: a getter runs for every field of every user.
    """
    keys = tuple(path.split("."))

    def get(user: Mapping[str, Any]) -> Any:
        node: Any = user
        for depth, key in enumerate(keys):
            # type() first: API JSON is plain dicts, and an ABC isinstance check is slow.
            if type(node) is not dict and not isinstance(node, Mapping):
                where = ".".join(keys[:depth]) or "$"
                raise MappingError(f"expected an object, got {type(node).__name__}", where)
            node = node.get(key)
            if node is None:
                return None
        return node

    return get


def _utf8(value: str, path: str) -> str:
    """``value`` when UTF-8 can spell it; :class:`MappingError` for a lone surrogate.

    JSON's ``"\\ud800"`` decodes to a Python string that no UTF-8 encoder takes: Avro
    would fail on it at serialization time, for the whole page, on every retry.
    """
    if value.isascii():  # the common case, and a C-speed check
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        raise MappingError(
            f"not valid UTF-8: lone surrogate U+{code:04X} at character {exc.start}", path
        ) from None
    return value


def _string(path: str) -> Extract:
    get = _getter(path)

    def extract(user: Mapping[str, Any]) -> str | None:
        value = get(user)
        if value is None:
            return None
        if type(value) is not str and not isinstance(value, str):
            raise MappingError(f"expected a string, got {type(value).__name__}", path)
        return _utf8(value, path)

    return extract


def _uuid(path: str) -> Extract:
    string = _string(path)

    def extract(user: Mapping[str, Any]) -> str | None:
        value = string(user)
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise MappingError(f"not a UUID: {value!r}", path) from None

    return extract


def _timestamp(path: str) -> Extract:
    """ISO-8601 (``1992-03-08T15:13:16.688Z``) -> aware datetime; no zone means UTC."""

    string = _string(path)

    def extract(user: Mapping[str, Any]) -> datetime | None:
        value = string(user)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise MappingError(f"not an ISO-8601 date: {value!r}", path) from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    return extract


def date_at(path: str) -> Extract:
    """ISO-8601 -> the calendar ``date`` of that moment in UTC (Avro's ``date``)."""
    moment = _timestamp(path)

    def extract(user: Mapping[str, Any]) -> date | None:
        value = moment(user)
        return None if value is None else value.date()

    return extract


def decimal_at(path: str, scale: int) -> Extract:
    """A number sent as a string or an int -> ``Decimal`` with exactly ``scale`` decimals
    (Avro's ``decimal``). More significant decimals than that is a :class:`MappingError`:
    the value is kept exact or refused, never rounded. Floats are refused (already inexact).
    """
    get = _getter(path)
    quantum = Decimal(1).scaleb(-scale)

    def extract(user: Mapping[str, Any]) -> Decimal | None:
        value = get(user)
        if value is None:
            return None
        if type(value) is bool or not isinstance(value, str | int):
            raise MappingError(f"expected a decimal string or an integer, got "
                               f"{type(value).__name__}", path)
        try:
            number = Decimal(value)
            exact = number.quantize(quantum)
        except InvalidOperation:
            raise MappingError(f"not a decimal: {value!r}", path) from None
        if not number.is_finite() or exact != number:
            raise MappingError(f"{value!r} does not fit {scale} decimals exactly", path)
        return exact

    return extract


def enum_at(path: str, symbols: Iterable[str], default: str) -> Extract:
    """A string -> its enum symbol (upper-cased); ``default`` when absent or not a symbol.

    An enum's default symbol is what a reader makes of a symbol it does not know: the
    producer does the same for a value the schema does not list, rather than reject the user.
    """
    string = _string(path)
    known = frozenset(symbols)
    if default not in known:
        raise ValueError(f"default {default!r} is not one of the symbols {sorted(known)}")

    def extract(user: Mapping[str, Any]) -> str:
        value = string(user)
        symbol = value.upper() if value is not None else default
        return symbol if symbol in known else default

    return extract


def record_of(fields: Mapping[str, Extract], when: str | None = None) -> Extract:
    """A nested record: each field from its own extractor. With ``when`` (a path), None
    when the API has nothing there; a record that lacks a required part is for the
    schema validation to refuse, naming the field."""
    present = _getter(when) if when is not None else None
    parts = tuple(fields.items())

    def extract(user: Mapping[str, Any]) -> dict[str, Any] | None:
        if present is not None and present(user) is None:
            return None
        return {name: get(user) for name, get in parts}

    return extract


# The extractors, by their public names: a rules module of one's own builds on them.
string_at, uuid_at, timestamp_at = _string, _uuid, _timestamp

_POSTCODE = _getter("location.postcode")


def _post_code(user: Mapping[str, Any]) -> str | None:
    # Numbers for some nationalities (US, DE, FR...), strings for others (GB, CA, NL...).
    value = _POSTCODE(user)
    if value is None:
        return None
    if isinstance(value, str):
        return _utf8(value, "location.postcode")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise MappingError(f"expected a string or an integer, got {type(value).__name__}",
                       "location.postcode")


_LOCATION = _getter("location")
_ADDRESS_PARTS = tuple(
    (path, _getter(path))
    for path in ("location.street.number", "location.street.name", "location.city",
                 "location.state", "location.country")
)


def _address(user: Mapping[str, Any]) -> str | None:
    """'<number> <street>, <city>, <state>, <country>', as the seed tutorial composed it."""
    if _LOCATION(user) is None:
        return None
    parts = []
    for path, get in _ADDRESS_PARTS:
        value = get(user)
        if value is None:
            raise MappingError("missing (needed for the address)", path)
        if type(value) is not str and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise MappingError(f"expected a string or an integer, got {type(value).__name__}",
                               path)
        parts.append(_utf8(value, path) if isinstance(value, str) else value)
    number, street, city, state, country = parts
    return f"{number} {street}, {city}, {state}, {country}"


FIELD_RULES: dict[str, FieldRule] = {
    "id": FieldRule("login.uuid", _uuid("login.uuid")),
    "first_name": FieldRule("name.first", _string("name.first")),
    "last_name": FieldRule("name.last", _string("name.last")),
    "gender": FieldRule("gender", _string("gender")),
    "address": FieldRule("location", _address),
    "post_code": FieldRule("location.postcode", _post_code),
    "email": FieldRule("email", _string("email")),
    "username": FieldRule("login.username", _string("login.username")),
    "dob": FieldRule("dob.date", _timestamp("dob.date")),
    "registered_date": FieldRule("registered.date", _timestamp("registered.date")),
    "phone": FieldRule("phone", _string("phone")),
    "picture": FieldRule("picture.medium", _string("picture.medium")),
    # Offered by the API, not (yet) in every schema version:
    "nationality": FieldRule("nat", _string("nat")),
    "cell": FieldRule("cell", _string("cell")),
}


def _nullable(avro_type: Any) -> bool:
    return avro_type == "null" or (isinstance(avro_type, list) and "null" in avro_type)


Shape = Callable[[Any], Any]
_BUILDING: dict[str, Any] = {}  # marks a record whose fields are being walked


def _shaped(extract: Extract, avro_type: Any, named: dict[str, Any]) -> Extract:
    """``extract``, its nested records cut to the fields the schema has: a rule may offer
    parts that only a later schema version asks for (a catalogue, as ``FIELD_RULES`` is)."""
    shape = _shape(avro_type, named)
    if shape is None:
        return extract
    return lambda user: shape(extract(user))


def _shape(avro_type: Any, named: dict[str, Any]) -> Shape | None:
    """A function keeping only the schema's keys in every nested record of a value of
    ``avro_type``; None when the type holds no record (nothing to cut)."""
    if isinstance(avro_type, str):  # a named type; a record being built is recursive: left
        found = named.get(avro_type)
        return _shape(found, named) if found is not None and found is not _BUILDING else None
    if isinstance(avro_type, list):  # a union: a dict is its record branch
        shapes = [s for s in (_shape(t, named) for t in avro_type) if s is not None]
        return shapes[0] if len(shapes) == 1 else None  # several records: left as they are
    if not isinstance(avro_type, dict):
        return None
    kind = avro_type.get("type")
    if kind == "record":
        names = [avro_type["name"]]
        if "namespace" in avro_type:
            names.append(f"{avro_type['namespace']}.{avro_type['name']}")
        named.update(dict.fromkeys(names, _BUILDING))
        parts = tuple((f["name"], _shape(f["type"], named)) for f in avro_type["fields"])
        named.update(dict.fromkeys(names, avro_type))

        def record(value: Any) -> Any:
            if not isinstance(value, Mapping):
                return value  # not a record: for the schema validation to refuse
            return {name: (shape(value[name]) if shape is not None and name in value
                           else value.get(name)) for name, shape in parts}

        return record
    if kind == "array":
        item = _shape(avro_type["items"], named)
        return None if item is None else (
            lambda value: [item(v) for v in value] if isinstance(value, list) else value)
    if kind == "map":
        entry = _shape(avro_type["values"], named)
        return None if entry is None else (
            lambda value: {k: entry(v) for k, v in value.items()}
            if isinstance(value, Mapping) else value)
    if kind in ("enum", "fixed"):
        named[avro_type["name"]] = avro_type
    return None


@dataclass(frozen=True)
class _Plan:
    """What the contract asks for, computed once per schema."""

    field_names: tuple[str, ...]
    extractors: tuple[tuple[str, Extract], ...]  # (field, its rule's extract), schema order
    sources: Mapping[str, str]  # field -> where its rule reads it (for error messages)
    required: tuple[str, ...]  # the non-nullable fields, schema order (the first is named)
    parsed_schema: Any
    record_name: str


@lru_cache(maxsize=8)
def _plan(contract: Contract) -> _Plan:
    check_rules_cover(contract)
    rules = rules_for(contract)
    required = tuple(f["name"] for f in contract.fields if not _nullable(f["type"]))
    schema = contract.schema
    name = f"{schema['namespace']}.{schema['name']}" if "namespace" in schema else schema["name"]
    names = tuple(contract.field_names)
    types = {f["name"]: f["type"] for f in contract.fields}
    named: dict[str, Any] = {}  # named types, in schema order: a later field may refer back
    extractors = tuple((n, _shaped(rules[n].extract, types[n], named)) for n in names)
    sources = {n: rules[n].source for n in names}
    return _Plan(names, extractors, sources, required, parse_schema(schema), name)


@lru_cache(maxsize=1)
def _default_contract() -> Contract:
    return load_contract()


def check_rules_cover(contract: Contract) -> None:
    """:class:`ContractDriftError` unless every schema field has a rule in the contract's
    rules module (:class:`producers.rules.RulesModuleError` if that cannot be used)."""
    missing = set(contract.field_names) - set(rules_for(contract))
    if missing:
        raise ContractDriftError(
            f"{contract.avsc_path}: schema fields without a mapping rule in "
            f"{contract.rules_module}.FIELD_RULES: {sorted(missing)}"
        )


def to_record(api_user: Any, contract: Contract | None = None) -> dict[str, Any]:
    """The Avro record for one API user, or :class:`MappingError` naming the offending field."""
    contract = contract or _default_contract()
    plan = _plan(contract)
    if not isinstance(api_user, Mapping):
        raise MappingError(f"expected a JSON object, got {type(api_user).__name__}", "$")
    record = {name: extract(api_user) for name, extract in plan.extractors}
    for name in plan.required:
        if record[name] is None:
            raise MappingError("required by the contract, missing", plan.sources[name])
    # The quiet check is ~10x faster; the raising one runs only to explain a failure.
    if validate(record, plan.parsed_schema, raise_errors=False):
        return record
    try:
        validate(record, plan.parsed_schema, raise_errors=True)
    except ValidationError as exc:
        first = str(exc.errors[0]) if exc.errors else str(exc)
        field = first.removeprefix(plan.record_name + ".").split(" ", 1)[0]
        source = plan.sources.get(field, field)
        raise MappingError(f"does not fit the schema: {first}", source) from None
    raise MappingError("does not fit the schema", "$")


@dataclass(frozen=True)
class MappedPage:
    records: tuple[dict[str, Any], ...]
    rejected: tuple[tuple[Any, MappingError], ...]  # (the API user as received, why)


def map_users(users: Iterable[Any], contract: Contract | None = None) -> MappedPage:
    """Split API users into contract records and rejects (kept with their reason)."""
    records: list[dict[str, Any]] = []
    rejected: list[tuple[Any, MappingError]] = []
    for user in users:
        try:
            records.append(to_record(user, contract))
        except MappingError as exc:
            rejected.append((user, exc))
    return MappedPage(tuple(records), tuple(rejected))
