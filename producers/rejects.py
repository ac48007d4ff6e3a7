"""Reject records: API users that do not fit the contract, kept with the reason.

They go as JSON to the contract's rejects topic (``users_created.rejected``)
so a bad record is visible and replayable instead of silently dropped. The
API's fake credentials (password, salt, hashes) are redacted on the way, wherever they
are: a record that does not fit the contract is exactly the one whose shape is odd.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from producers.errors import MappingError

REDACTED = "***"
# A key is a credential when its letters and digits, lower-cased, contain one of these:
# "password", "Password", "user_password", "passwordHash", "SHA-256", "api_token"...
CREDENTIAL_WORDS = ("password", "passwd", "salt", "md5", "sha1", "sha256", "hash", "token",
                    "secret")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")
# Python strings can hold lone surrogates (JSON's "\\ud800"), which UTF-8 cannot spell.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def is_credential(key: object) -> bool:
    """Whether a JSON key names a credential, in any case or spelling (``Pass_Word`` too)."""
    name = _NOT_ALNUM.sub("", str(key).lower())
    return any(word in name for word in CREDENTIAL_WORDS)


def redact(api_user: Any) -> Any:
    """A copy of the API user with every credential-like key's value replaced by
    :data:`REDACTED`, at any depth: objects, lists, objects inside lists. The input is
    left alone. Iterative, so that a deeply nested record cannot exhaust the stack."""

    def copy_of(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {}
        if isinstance(value, list | tuple):
            return []
        return value

    root = copy_of(api_user)
    pending: list[tuple[Any, Any]] = [(api_user, root)]  # (original container, its copy)
    while pending:
        original, clean = pending.pop()
        if isinstance(original, Mapping):
            items: Any = original.items()
        elif isinstance(original, list | tuple):
            items = enumerate(original)
        else:
            continue
        for key, value in items:
            if isinstance(original, Mapping) and is_credential(key):
                clean[key] = REDACTED
                continue
            child = copy_of(value)
            if isinstance(clean, dict):
                clean[key] = child
            else:
                clean.append(child)
            if child is not value:
                pending.append((value, child))
    return root


@dataclass(frozen=True)
class RejectRecord:
    raw: Any  # the API user as received, credentials redacted
    reason: str
    field_path: str
    subject: str  # the contract it failed
    run_id: str
    rejected_at: datetime  # timezone-aware

    @property
    def key(self) -> str | None:
        """The API's login.uuid when there is a usable one, so rejects of a user co-locate."""
        login = self.raw.get("login") if isinstance(self.raw, Mapping) else None
        uuid = login.get("uuid") if isinstance(login, Mapping) else None
        if not isinstance(uuid, str) or not uuid or _SURROGATE.search(uuid):
            return None
        return uuid

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "reason": self.reason,
            "field_path": self.field_path,
            "subject": self.subject,
            "run_id": self.run_id,
            "rejected_at": self.rejected_at.isoformat(timespec="milliseconds"),
        }

    def to_json(self) -> bytes:
        """UTF-8 JSON, non-ASCII kept readable; a lone surrogate (which UTF-8 cannot spell)
        is written as its JSON escape, so the reject of such a record is still produced and
        reads back as the same string."""
        # default=str: a raw value JSON cannot spell must not lose the reject itself
        text = json.dumps(self.to_dict(), ensure_ascii=False, default=str)
        text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        return text.encode("utf-8")


def make_reject(
    api_user: Any, error: MappingError, *, subject: str, run_id: str, now: datetime
) -> RejectRecord:
    if now.tzinfo is None:
        raise ValueError("rejected_at must be timezone-aware")
    return RejectRecord(redact(api_user), error.reason, error.field_path, subject, run_id, now)
