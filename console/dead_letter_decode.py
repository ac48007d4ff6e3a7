"""A dead letter's raw value, decoded for a person: the frame, its writer schema, the record.

The frame is parsed by the pipeline's one wire implementation (:mod:`contract.wire`), the
payload decoded by fastavro with the writer schema registered under the frame's id (the
console has no Spark). Each way it can fail is said plainly, beside the reason the stream
stored; nothing here talks to a service (the writer schema is looked up by the caller's
function).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from contract.wire import Frame, parse_frame

WriterSchemas = Callable[[int], "str | None"]  # schema id -> its schema, None: unknown id


@dataclass(frozen=True)
class Decoded:
    schema_id: int | None = None
    record_json: str = ""  # the record, pretty JSON; empty when it was not decoded
    problem: str = ""  # why it was not decoded

    @property
    def ok(self) -> bool:
        return not self.problem


def decode_value(
    value: bytes | None, headers: dict[str, bytes], writer_schemas: WriterSchemas
) -> Decoded:
    """``value`` as its writer wrote it, or why not (``writer_schemas`` may raise the
    registry's ServiceUnavailable/ServiceRefused: the caller shows those as a banner)."""
    import fastavro  # inner: the pages that never decode need not import it

    framed = parse_frame(value, headers.items())
    if not isinstance(framed, Frame):
        return Decoded(problem=f"not a frame this pipeline reads: {framed.reason}")
    schema_str = writer_schemas(framed.schema_id)
    if schema_str is None:
        return Decoded(framed.schema_id,
                       problem=f"the registry has no schema with id {framed.schema_id}")
    try:
        schema = fastavro.parse_schema(json.loads(schema_str))
    except (ValueError, fastavro.schema.SchemaParseException) as exc:
        return Decoded(framed.schema_id,
                       problem=f"writer schema {framed.schema_id} does not parse: {exc}")
    payload = io.BytesIO(framed.payload)
    try:
        record = fastavro.schemaless_reader(payload, schema, None)
    except (EOFError, ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
        return Decoded(framed.schema_id, problem=(
            f"the payload does not decode with writer schema {framed.schema_id}: "
            f"{type(exc).__name__}: {exc}"))
    left = len(framed.payload) - payload.tell()
    if left:
        return Decoded(framed.schema_id, problem=(
            f"writer schema {framed.schema_id} reads only {payload.tell()} of the payload's "
            f"{len(framed.payload)} bytes ({left} left over)"))
    return Decoded(framed.schema_id, json.dumps(record, indent=2, default=_json_value))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")
