"""Deterministic fake users in the JSON shape of randomuser.me API v1.4.

Pure functions: a user is a function of (seed, nationalities, gender, page,
index). The same request therefore always returns the same users, and
``login.uuid`` is a uuid5 of that key, so a re-run upserts the same rows.
"""

from __future__ import annotations

import copy
import hashlib
import random
import string
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from stack.randomuser.nationalities import NATIONALITIES, NATIONALITY_CODES

API_VERSION = "1.4"
MAX_RESULTS = 5000
FIELDS = (
    "gender", "name", "location", "email", "login", "dob", "registered",
    "phone", "cell", "id", "picture", "nat",
)
GENDERS = ("male", "female")
# Ages are computed against a fixed date, not today: same seed, same answer, any year.
REFERENCE_DATE = datetime(2025, 1, 1, tzinfo=UTC)
UUID_NAMESPACE = uuid.UUID("5b0c3a55-0d8f-4a4e-9a39-7a1c2b6f0e14")

_DOB_FROM = datetime(1945, 1, 1, tzinfo=UTC)
_DOB_TO = datetime(2004, 12, 31, tzinfo=UTC)
_REGISTERED_FROM = datetime(2002, 1, 1, tzinfo=UTC)
_TIMEZONES = (
    ("-12:00", "Eniwetok, Kwajalein"), ("-10:00", "Hawaii"),
    ("-8:00", "Pacific Time (US & Canada)"), ("-5:00", "Eastern Time (US & Canada), Bogota, Lima"),
    ("-3:00", "Brazil, Buenos Aires, Georgetown"),
    ("0:00", "Western Europe Time, London, Lisbon, Casablanca"),
    ("+1:00", "Brussels, Copenhagen, Madrid, Paris"), ("+3:30", "Tehran"),
    ("+5:30", "Bombay, Calcutta, Madras, New Delhi"), ("+9:30", "Adelaide, Darwin"),
    ("+12:00", "Auckland, Wellington, Fiji, Kamchatka"),
)
_ADJECTIVES = (
    "yellow", "purple", "lazy", "happy", "sad", "tiny", "big", "heavy", "silver", "organic",
    "ticklish", "beautiful", "crazy", "blue", "red", "green", "black", "white", "orange", "brown",
)
_ANIMALS = (
    "peacock", "zebra", "duck", "bear", "tiger", "rabbit", "koala", "leopard", "swan", "frog",
    "goose", "wolf", "lion", "cat", "dog", "fish", "bird", "butterfly", "snake", "elephant",
)
_PASSWORDS = (
    "addison", "woodie", "jokers", "sunshine", "dragon", "monkey", "freedom", "hunter",
    "qwerty", "letmein", "shadow", "master", "buster", "soccer", "harley", "ranger",
)
_TITLES = {"male": ("Mr",), "female": ("Ms", "Mrs", "Miss")}

# Failure injection: what a broken record looks like, cycled over the first N users of a page.
BROKEN_KINDS = ("missing login.uuid", "dob.date not a date", "name.first not a string")
# Records that do not fit in the odd ways real sources send, cycled over the N users after
# the broken ones. The credential kinds are invalid too (so they become rejects) and carry
# ODD_SECRET where redaction must find it: a rejects topic holding it leaked a credential.
ODD_KINDS = (
    "lone surrogate in name.first",
    "login is a list holding the password",
    "Password capitalised, login.uuid missing",
    "token beside the user, login.username not a string",
    "name missing",
    "registered.date a number",
)
ODD_SECRET = "odd-credential-5e1f0c"


def normalize_nats(nat: str | Iterable[str] | None) -> tuple[str, ...]:
    """Known nationality codes, upper-cased, de-duplicated and sorted; all of them if none."""
    raw = nat.split(",") if isinstance(nat, str) else list(nat or ())
    codes = sorted({c.strip().upper() for c in raw if c.strip().upper() in NATIONALITIES})
    return tuple(codes) or NATIONALITY_CODES


def user_key(seed: str, nats: Sequence[str], gender: str | None, page: int, index: int) -> str:
    return f"{seed}|{','.join(nats)}|{gender or ''}|{page}|{index}"


def api_date(moment: datetime) -> str:
    """The API's date format: ISO-8601 in UTC with milliseconds and a Z."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _years_between(earlier: datetime, later: datetime) -> int:
    years = later.year - earlier.year
    return years - ((later.month, later.day) < (earlier.month, earlier.day))


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span_ms = int((end - start).total_seconds() * 1000)
    return start + timedelta(milliseconds=rng.randint(0, max(span_ms, 0)))


def _render(rng: random.Random, template: str) -> str:
    return "".join(rng.choice(string.digits) if c == "#" else c for c in template)


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def generate_user(
    seed: str, page: int, index: int, nats: Sequence[str], gender: str | None = None
) -> dict[str, Any]:
    """One user; ``nats`` must already be normalized (see :func:`normalize_nats`)."""
    key = user_key(seed, nats, gender, page, index)
    rng = random.Random(key)  # str seeds hash through SHA-512: stable across processes
    nat = NATIONALITIES[rng.choice(nats)]
    sex = gender if gender in GENDERS else rng.choice(GENDERS)
    first = rng.choice(nat.male_first if sex == "male" else nat.female_first)
    last = rng.choice(nat.last)
    username = f"{rng.choice(_ADJECTIVES)}{rng.choice(_ANIMALS)}{rng.randint(100, 999)}"
    password = rng.choice(_PASSWORDS)
    salt = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(8))
    salted = (password + salt).encode()
    dob = _moment(rng, _DOB_FROM, _DOB_TO)
    registered = _moment(rng, max(dob + timedelta(days=18 * 366), _REGISTERED_FROM), REFERENCE_DATE)
    local_part = ".".join(p for p in (_ascii_slug(first), _ascii_slug(last)) if p) or username
    offset, description = rng.choice(_TIMEZONES)
    portrait = f"{'men' if sex == 'male' else 'women'}/{rng.randint(0, 99)}.jpg"
    id_value = None if rng.random() < nat.null_id_ratio else nat.id_value(rng)
    return {
        "gender": sex,
        "name": {"title": rng.choice(_TITLES[sex]), "first": first, "last": last},
        "location": {
            "street": {"number": rng.randint(1, 9999), "name": rng.choice(nat.streets)},
            "city": rng.choice(nat.cities),
            "state": rng.choice(nat.states),
            "country": nat.country,
            "postcode": nat.postcode(rng),
            "coordinates": {
                "latitude": f"{rng.uniform(-90, 90):.4f}",
                "longitude": f"{rng.uniform(-180, 180):.4f}",
            },
            "timezone": {"offset": offset, "description": description},
        },
        "email": f"{local_part}@example.com",
        "login": {
            "uuid": str(uuid.uuid5(UUID_NAMESPACE, key)),
            "username": username,
            "password": password,
            "salt": salt,
            # Weak hashes on purpose: the real API sends exactly these fields.
            "md5": hashlib.md5(salted).hexdigest(),
            "sha1": hashlib.sha1(salted).hexdigest(),
            "sha256": hashlib.sha256(salted).hexdigest(),
        },
        "dob": {"date": api_date(dob), "age": _years_between(dob, REFERENCE_DATE)},
        "registered": {
            "date": api_date(registered),
            "age": _years_between(registered, REFERENCE_DATE),
        },
        "phone": _render(rng, nat.phone),
        "cell": _render(rng, nat.cell),
        "id": {"name": nat.id_name, "value": id_value},
        "picture": {
            "large": f"https://randomuser.me/api/portraits/{portrait}",
            "medium": f"https://randomuser.me/api/portraits/med/{portrait}",
            "thumbnail": f"https://randomuser.me/api/portraits/thumb/{portrait}",
        },
        "nat": nat.code,
    }


def break_user(user: dict[str, Any], kind: int) -> dict[str, Any]:
    """A copy of ``user`` made invalid in the way ``BROKEN_KINDS[kind % 3]`` names."""
    broken = copy.deepcopy(user)
    name = BROKEN_KINDS[kind % len(BROKEN_KINDS)]
    if name == "missing login.uuid":
        broken.get("login", {}).pop("uuid", None)
    elif name == "dob.date not a date":
        broken.setdefault("dob", {})["date"] = "not-a-date"
    else:
        broken.setdefault("name", {})["first"] = 12345
    return broken


def odd_user(user: dict[str, Any], kind: int) -> dict[str, Any]:
    """A copy of ``user`` that does not fit in the way ``ODD_KINDS[kind % 6]`` names."""
    odd = copy.deepcopy(user)
    name = ODD_KINDS[kind % len(ODD_KINDS)]
    login = odd.get("login") or {}
    if name == "lone surrogate in name.first":
        odd["name"]["first"] = odd["name"]["first"][:2] + "\ud800" + odd["name"]["first"][2:]
    elif name == "login is a list holding the password":
        odd["login"] = [{**login, "password": ODD_SECRET}]
    elif name == "Password capitalised, login.uuid missing":
        login.pop("uuid", None)
        login.pop("password", None)
        login["Password"] = ODD_SECRET
    elif name == "token beside the user, login.username not a string":
        odd["api_token"] = ODD_SECRET
        login["username"] = 42
    elif name == "name missing":
        odd.pop("name", None)
    else:
        odd["registered"]["date"] = 1234567890
    return odd


def select_fields(
    user: dict[str, Any], inc: Iterable[str] = (), exc: Iterable[str] = ()
) -> dict[str, Any]:
    """The API's ``inc``/``exc``: keep only ``inc`` (if given), then drop ``exc``."""
    included = {f for f in inc if f in FIELDS}
    excluded = set(exc)
    return {
        k: v for k, v in user.items()
        if (not included or k in included) and k not in excluded
    }


def generate_page(
    seed: str,
    page: int,
    results: int,
    nats: Sequence[str],
    *,
    gender: str | None = None,
    broken: int = 0,
    odd: int = 0,
    inc: Iterable[str] = (),
    exc: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """``results`` users of ``page``; the first ``broken`` of them deliberately invalid,
    the ``odd`` after them not fitting in the odd ways of :data:`ODD_KINDS`."""
    inc, exc = tuple(inc), tuple(exc)
    users = []
    for index in range(results):
        user = generate_user(seed, page, index, nats, gender)
        if index < broken:
            user = break_user(user, index)
        elif index < broken + odd:
            user = odd_user(user, index - broken)
        users.append(select_fields(user, inc, exc))
    return users
