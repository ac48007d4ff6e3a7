"""Rules of the ``users_profile-value`` contract (schemas/): where each
field comes from in the randomuser API's JSON, in the shapes real schemas have.

Pure functions built from :mod:`producers.mapping`'s :class:`FieldRule` and extractors:
nested records (``record_of``), exact decimals (``decimal_at``), dates (``date_at``),
enums with a default symbol (``enum_at``); the array, the map, the optional record and the
fixed digest are this contract's own compositions, below. The sidecar names this module
in ``[source] rules``; every record is still validated against the schema by
:func:`producers.mapping.to_record`, which names the field that does not fit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from producers.errors import MappingError
from producers.mapping import (
    FIELD_RULES as RANDOMUSER,
)
from producers.mapping import (
    FieldRule,
    date_at,
    decimal_at,
    enum_at,
    record_of,
    string_at,
    timestamp_at,
    uuid_at,
)

__all__ = ["COORDINATE_SCALE", "FIELD_RULES", "GENDERS", "NATIONALITIES", "PHONE_SOURCES"]

# The schema's enums (schemas/users_profile-value.avsc); a unit test holds the
# two to the same symbols.
GENDERS = ("UNKNOWN", "FEMALE", "MALE")
NATIONALITIES = ("UNKNOWN", "AU", "BR", "CA", "CH", "DE", "DK", "ES", "FI", "FR", "GB", "IE",
                 "IN", "IR", "MX", "NL", "NO", "NZ", "RS", "TR", "UA", "US")
COORDINATE_SCALE = 4  # the decimals' scale in the schema: the API sends 4 decimals
PHONE_SOURCES = (("PHONE", "phone"), ("CELL", "cell"))  # (PhoneKind symbol, API field)


def _int_at(path: str) -> Any:
    """The integer at a dotted path; None when absent; anything else a MappingError."""
    keys = path.split(".")

    def extract(user: Mapping[str, Any]) -> int | None:
        node: Any = user
        for key in keys:
            if not isinstance(node, Mapping):
                raise MappingError(f"expected an object, got {type(node).__name__}", path)
            node = node.get(key)
            if node is None:
                return None
        if type(node) is bool or not isinstance(node, int):
            raise MappingError(f"expected an integer, got {type(node).__name__}", path)
        return node

    return extract


_offset = string_at("location.timezone.offset")
_OFFSET = re.compile(r"^([+-]?)(\d{1,2}):(\d{2})$")


def _offset_minutes(user: Mapping[str, Any]) -> int | None:
    """location.timezone.offset ("+5:30", "-3:30", "0:00") as minutes east of UTC; None
    when absent or in another form (the text itself stays in ``offset``)."""
    text = _offset(user)
    match = _OFFSET.match(text) if text is not None else None
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    return (-1 if sign == "-" else 1) * (int(hours) * 60 + int(minutes))


_location = record_of(
    {
        "street": record_of({"number": _int_at("location.street.number"),
                             "name": string_at("location.street.name")}),
        "city": string_at("location.city"),
        "state": string_at("location.state"),
        "country": string_at("location.country"),
        "post_code": RANDOMUSER["post_code"].extract,
        "coordinates": record_of({
            "latitude": decimal_at("location.coordinates.latitude", COORDINATE_SCALE),
            "longitude": decimal_at("location.coordinates.longitude", COORDINATE_SCALE),
        }),
        "timezone": record_of({"offset": _offset,
                               "description": string_at("location.timezone.description"),
                               # v3 (docs/examples); a schema without it ignores the key
                               "utc_offset_minutes": _offset_minutes}),
    },
    when="location",
)

_phone_numbers = tuple((kind, string_at(path)) for kind, path in PHONE_SOURCES)


def _phones(user: Mapping[str, Any]) -> list[dict[str, str]]:
    """phone then cell, each one the API sent."""
    found = ((kind, number(user)) for kind, number in _phone_numbers)
    return [{"kind": kind, "number": value} for kind, value in found if value is not None]


_id_name, _id_value = string_at("id.name"), string_at("id.value")
_username = string_at("login.username")


def _ids(user: Mapping[str, Any]) -> dict[str, str]:
    """id.name -> id.value when both are there (the API sends an empty name or a null value
    for some nationalities), and username -> login.username."""
    ids: dict[str, str] = {}
    name, value = _id_name(user), _id_value(user)
    if name and value is not None:
        ids[name] = value
    username = _username(user)
    if username is not None:
        ids["username"] = username
    return ids


_login_uuid = uuid_at("login.uuid")
_email = string_at("email")


def _login_digest(user: Mapping[str, Any]) -> bytes | None:
    """MD5 of login.uuid's canonical text: 16 bytes (the schema's fixed), a pseudonym."""
    value = _login_uuid(user)
    if value is None:
        return None
    return hashlib.md5(value.encode("ascii"), usedforsecurity=False).digest()


_picture_urls = record_of({size: string_at(f"picture.{size}")
                           for size in ("large", "medium", "thumbnail")})


def _picture(user: Mapping[str, Any]) -> dict[str, str] | None:
    """All three URLs, or None (the record is optional; its fields are not)."""
    urls = _picture_urls(user)
    return urls if urls is not None and None not in urls.values() else None


FIELD_RULES: dict[str, FieldRule] = {
    "id": RANDOMUSER["id"],
    "gender": FieldRule("gender", enum_at("gender", GENDERS, "UNKNOWN")),
    "nationality": FieldRule("nat", enum_at("nat", NATIONALITIES, "UNKNOWN")),
    "dob": FieldRule("dob.date", date_at("dob.date")),
    "location": FieldRule("location", _location),
    "phones": FieldRule("phone+cell", _phones),
    "ids": FieldRule("id+login.username", _ids),
    "login_digest": FieldRule("login.uuid", _login_digest),
    "picture": FieldRule("picture", _picture),
    # Offered by the API, not in every schema version (docs/examples' v2 and v3 add them):
    "emails": FieldRule("email", lambda user: [e] if (e := _email(user)) is not None else None),
    "registered": FieldRule("registered", record_of(
        {"date": timestamp_at("registered.date"), "age": _int_at("registered.age")},
        when="registered")),
}
