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
    note: str = ""  # decoded, but with a caveat (a logical type its value does not fit)

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
        parsed = json.loads(schema_str)
        schema = fastavro.parse_schema(parsed)
        plain = fastavro.parse_schema(_without_logical_types(parsed))
    except (ValueError, fastavro.schema.SchemaParseException) as exc:
        return Decoded(framed.schema_id,
                       problem=f"writer schema {framed.schema_id} does not parse: {exc}")
    decoded, refused = _read(framed, schema)
    if not refused:
        return decoded
    # A value its logical type refuses (e.g. a uuid string that is no uuid) still has its
    # plain Avro value: shown, with why the logical type refused it.
    raw, _ = _read(framed, plain)
    if not raw.ok:
        return raw
    return Decoded(framed.schema_id, raw.record_json,
                   note=f"shown without logical types: with them, {decoded.problem}")


def _read(framed: Frame, schema: Any) -> tuple[Decoded, bool]:
    """The record, or why not; True when a ValueError (what fastavro's logical readers,
    uuid or decimal, raise) refused it."""
    import fastavro

    payload = io.BytesIO(framed.payload)
    failed = f"the payload does not decode with writer schema {framed.schema_id}"
    try:
        record = fastavro.schemaless_reader(payload, schema, None)
    except ValueError as exc:
        return Decoded(framed.schema_id, problem=f"{failed}: {type(exc).__name__}: {exc}"), True
    except (EOFError, TypeError, IndexError, UnicodeDecodeError) as exc:
        return Decoded(framed.schema_id, problem=f"{failed}: {type(exc).__name__}: {exc}"), False
    left = len(framed.payload) - payload.tell()
    if left:
        return Decoded(framed.schema_id, problem=(
            f"writer schema {framed.schema_id} reads only {payload.tell()} of the payload's "
            f"{len(framed.payload)} bytes ({left} left over)")), False
    return Decoded(framed.schema_id, json.dumps(record, indent=2, default=_json_value)), False


def _without_logical_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_without_logical_types(s) for s in schema]
    return schema


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")
