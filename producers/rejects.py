"""Reject records: API users that do not fit the contract, kept with the reason.

They go as JSON to the contract's rejects topic (``users_created.rejected``)
so a bad record is visible and replayable instead of silently dropped. The
API's fake credentials (password, salt, hashes) are redacted on the way.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from producers.errors import MappingError

REDACTED = "***"
CREDENTIAL_FIELDS = ("password", "salt", "md5", "sha1", "sha256")


def redact(api_user: Any) -> Any:
    """A copy of the API user without ``login``'s credentials."""
    if not isinstance(api_user, Mapping) or not isinstance(api_user.get("login"), Mapping):
        return copy.deepcopy(api_user)
    clean = copy.deepcopy(dict(api_user))
    login = dict(clean["login"])
    for name in CREDENTIAL_FIELDS:
        if name in login:
            login[name] = REDACTED
    clean["login"] = login
    return clean


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
        return uuid if isinstance(uuid, str) and uuid else None

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
        # default=str: a raw value JSON cannot spell must not lose the reject itself
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str).encode("utf-8")


def make_reject(
    api_user: Any, error: MappingError, *, subject: str, run_id: str, now: datetime
) -> RejectRecord:
    if now.tzinfo is None:
        raise ValueError("rejected_at must be timezone-aware")
    return RejectRecord(redact(api_user), error.reason, error.field_path, subject, run_id, now)
