"""Avro payloads -> records in the reader schema's shape, and why the others are not.

Every row is decoded with the schema it was written with (its frame's id) and resolved
into the reader schema (the subject's latest version) by Avro's own schema resolution:
``from_avro(payload, writer, {"avroSchema": reader})``. A v1 row read with v2 gets v2's
defaults for the fields v1 lacked.

Detecting a payload that does not decode. In Spark 3.5 ``from_avro`` in PERMISSIVE mode
does not return a null struct for a corrupt record: it returns a struct whose every field
is null (verified on truncated Avro, random bytes and an empty payload; see
tests/unit/test_streaming_decode.py). A legitimate record may have only null fields, so
"all null" cannot be the test. Instead the reader schema gets one extra boolean field,
:data:`DECODED_SENTINEL`, with default ``true``: no writer has it, so a decoded record
always carries ``true`` and a failed decode carries null (also if a later Spark returns a
null struct). Avro does not check that the payload was consumed to the end, so trailing
bytes after a valid record go unnoticed; that is the format's limit, not ours.

Only the schema ids a batch needs are resolved (on the driver, one registry call per new
id; the job learns them from earlier batches, replay with :func:`batch_schema_ids`), then
one CASE over those ids picks the ``from_avro`` of the row's writer: a single pass, no
union of per-id scans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import avro.errors
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.avro.functions import from_avro
from pyspark.sql.types import ArrayType, DataType, MapType, StringType, StructType

from contract.cql import LINEAGE_COLUMNS
from contract.wire import header
from streaming.dead_letters import KAFKA_COLUMN, kafka_struct
from streaming.frames import FRAME_REF, schema_id_of
from streaming.registry import ReaderSchema, SchemaLookup, WriterSchema
from streaming.sql import EXPRESSIONS, first_match, mapping_key

DECODED_SENTINEL = "__streaming_decoded"
DECODED = "_decoded"
DECODE_ERROR = "_decode_error"
DECODE_ERROR_CLASS = "_decode_error_class"
MATCHED_ID = "_writer_id"  # the id of the readable writer whose header the frame starts with


class DecodeErrorClass:
    UNKNOWN_SCHEMA_ID = "unknown_schema_id"
    UNREADABLE_WRITER_SCHEMA = "unreadable_writer_schema"
    UNDECODABLE_PAYLOAD = "undecodable_payload"
    INVALID_UTF8 = "invalid_utf8"


class ReservedFieldError(ValueError):
    """The reader schema has a field whose name the job reserves for itself."""


@dataclass(frozen=True)
class Rejected:
    """A writer schema id whose rows cannot be decoded at all, and why."""

    reason: str
    error_class: str


WriterResolution = WriterSchema | Rejected


# -- the driver side: which writer schemas this batch needs ---------------------------------


def batch_schema_ids(framed: DataFrame) -> list[int]:
    """The distinct schema ids of well-formed frames (a Spark action; small result)."""
    rows = (
        framed.where(F.col("frame_error").isNull()).select("schema_id").distinct().collect()
    )
    return sorted(int(r["schema_id"]) for r in rows)


def resolve_writers(
    schema_ids: Iterable[int], lookup: SchemaLookup, reader: ReaderSchema
) -> dict[int, WriterResolution]:
    """Each id -> its writer schema, or why its rows cannot be read into ``reader``.

    :class:`streaming.registry.RegistryUnavailable` propagates: the batch fails, nothing is
    dead-lettered for it.
    """
    resolved: dict[int, WriterResolution] = {}
    for schema_id in schema_ids:
        writer = lookup.writer(schema_id)
        if writer is None:
            resolved[schema_id] = Rejected(
                f"unknown schema id {schema_id}", DecodeErrorClass.UNKNOWN_SCHEMA_ID
            )
            continue
        problem = readability_problem(writer.schema_str, reader.schema_str)
        if problem is not None:
            resolved[schema_id] = Rejected(
                f"writer schema {schema_id} cannot be read as reader schema version "
                f"{reader.version}: {problem}",
                DecodeErrorClass.UNREADABLE_WRITER_SCHEMA,
            )
        else:
            resolved[schema_id] = writer
    return resolved


def readability_problem(writer_text: str, reader_text: str) -> str | None:
    """Why Avro schema resolution cannot read ``writer`` data as ``reader``; None if it can.

    Checked on the driver with the Avro library so the dead letter says which field is the
    problem, instead of every row failing inside ``from_avro`` with no reason.
    """
    try:
        writer = avro.schema.parse(writer_text)
        reader = avro.schema.parse(reader_text)
    except (avro.errors.AvroException, json.JSONDecodeError) as exc:
        return f"not a valid Avro schema: {exc}"
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    kinds = ", ".join(sorted(i.value for i in result.incompatibilities))
    # The checker reports JSON-pointer-like paths into the reader; name top-level fields.
    names = [f.name for f in reader.fields]  # type: ignore[attr-defined]
    where = sorted(
        _field_path(location, names) for location in result.locations if location != "/"
    )
    details = "; ".join(sorted(str(m) for m in result.messages))
    return f"{kinds} at {', '.join(where) or 'the record'} ({details})"


def _field_path(location: str, names: list[str]) -> str:
    match = re.match(r"^/fields/(\d+)(.*)$", location)
    if match is None or int(match.group(1)) >= len(names):
        return location
    return f"field {names[int(match.group(1))]}" + (
        f" ({match.group(2).lstrip('/')})" if match.group(2) not in ("", "/type") else ""
    )


# -- the executor side: one pass over the batch -----------------------------------------------

RESERVED_NAMES = frozenset({KAFKA_COLUMN, DECODED_SENTINEL, *LINEAGE_COLUMNS})


def reader_with_sentinel(reader: ReaderSchema) -> str:
    """The reader schema plus :data:`DECODED_SENTINEL` (boolean, default true)."""
    schema = reader.schema
    clashes = sorted(RESERVED_NAMES.intersection(reader.field_names))
    if clashes:
        raise ReservedFieldError(
            f"reader schema {reader.subject} version {reader.version}: field(s) {clashes} "
            "are reserved by the streaming job"
        )
    schema["fields"] = [
        *schema["fields"],
        {"name": DECODED_SENTINEL, "type": "boolean", "default": True},
    ]
    return json.dumps(schema)


def decode_frames(
    framed: DataFrame, reader: ReaderSchema, writers: Mapping[int, WriterResolution]
) -> DataFrame:
    """Decode the well-formed frames of ``framed`` (output of :func:`frames.parse_frames`).

    Adds the Kafka struct (:data:`KAFKA_COLUMN`), :data:`DECODED` (the record in the
    reader's shape), ``writer_schema_id``, ``writer_schema_version``, and for a row not
    decoded :data:`DECODE_ERROR` and :data:`DECODE_ERROR_CLASS`.

    Pure transform: ``writers`` must cover every schema id of the batch
    (:func:`batch_schema_ids`), an id missing from it is dead-lettered as unknown.

    A row picks its writer by comparing its schema reference (``frame_ref``: the
    ``__value_schema_id`` header's five bytes, or the value's first five) with each
    readable writer's, as binary: the id is never turned into a number on the decoding path
    (Spark can only do that through hex text). Only a row that matches no readable writer
    computes its id, for the reason it is dead-lettered with.
    """
    has_headers = "headers" in framed.columns
    steps = EXPRESSIONS.get(
        ("decode", reader, mapping_key(writers), has_headers),
        lambda: _decode_steps(reader, writers, has_headers),
    )
    decoded = framed
    for step in steps:
        decoded = decoded.withColumns(step)
    return decoded


def _decode_steps(
    reader: ReaderSchema, writers: Mapping[int, WriterResolution], has_headers: bool
) -> tuple[dict[str, Column], ...]:
    """:func:`decode_frames`' steps of columns (built once, see ``ExpressionCache``)."""
    options = {
        "avroSchema": reader_with_sentinel(reader),
        "mode": "PERMISSIVE",
        # Avro's timestamps are proleptic Gregorian; no legacy-calendar rebasing.
        "datetimeRebaseMode": "CORRECTED",
    }
    # The frame's schema reference (header or prefix, see streaming.frames).
    frame_header = F.col(FRAME_REF)
    schema_id = schema_id_of(frame_header)  # evaluated only in the branches that need it
    payload = F.col("payload")

    readable = {s: w for s, w in writers.items() if isinstance(w, WriterSchema)}
    rejected = {s: r for s, r in writers.items() if isinstance(r, Rejected)}
    matches = [(frame_header == F.lit(header(sid)), sid, w) for sid, w in readable.items()]
    matched_id = first_match([(m, F.lit(sid)) for m, sid, _ in matches],
                             otherwise=F.lit(None)).cast("int")
    # Later choices compare the matched id (an int column), not the header bytes again.
    matched = F.col(MATCHED_ID)
    decoders = [(matched == sid, from_avro(payload, w.schema_str, options))
                for sid, w in readable.items()]
    if not decoders:
        # No readable writer in this batch: a never-taken branch still types the column.
        decoders = [(F.lit(False), from_avro(payload, reader.schema_str, options))]
    decoded = first_match(decoders)
    version = first_match(
        [(matched == sid, F.lit(w.version).cast("int")) for sid, w in readable.items()],
        otherwise=F.lit(None).cast("int"),
    )
    # Why a row with no readable writer is not decoded: its id is rejected, or unknown.
    no_writer = first_match(
        [(schema_id == sid, F.lit(r.reason)) for sid, r in rejected.items()],
        otherwise=F.format_string("unknown schema id %d", schema_id),
    )
    no_writer_class = first_match(
        [(schema_id == sid, F.lit(r.error_class)) for sid, r in rejected.items()],
        otherwise=F.lit(DecodeErrorClass.UNKNOWN_SCHEMA_ID),
    )
    not_decoded = F.col(DECODED)[DECODED_SENTINEL].isNull()
    error = F.when(F.col(MATCHED_ID).isNull(), no_writer).when(
        not_decoded,
        F.format_string("avro payload does not decode with writer schema %d", F.col(MATCHED_ID)),
    )
    error_class = F.when(F.col(MATCHED_ID).isNull(), no_writer_class).when(
        not_decoded, F.lit(DecodeErrorClass.UNDECODABLE_PAYLOAD)
    )
    well_formed = F.col("frame_error").isNull()
    # Three steps, each adding its columns at once (each step is an analysis on the driver).
    return (
        {
            KAFKA_COLUMN: kafka_struct(has_headers=has_headers),
            MATCHED_ID: F.when(well_formed, matched_id),
        },
        {
            DECODED: F.when(F.col(MATCHED_ID).isNotNull(), decoded),
            # Not the parsed schema_id column: that would compute every row's id as text.
            "writer_schema_id": F.coalesce(F.col(MATCHED_ID), F.when(well_formed, schema_id)),
            "writer_schema_version": F.when(well_formed, version),
        },
        {
            DECODE_ERROR: F.when(well_formed, error),
            DECODE_ERROR_CLASS: F.when(well_formed, error_class),
        },
    )


# -- strings that are not UTF-8 -------------------------------------------------------------------
#
# Avro strings are UTF-8, but Spark's Avro reader copies their bytes unchecked: a record
# with invalid bytes (or a UTF-16 surrogate encoded as UTF-8) decodes, and the Cassandra
# driver later turns those bytes into replacement characters, storing an altered value.
# The reconciliation's fastavro refuses the same record. Such rows are dead-lettered
# (stage decode, :attr:`DecodeErrorClass.INVALID_UTF8`), found with SQL expressions: a
# string's raw bytes differ from the same string encoded again, because encoding decodes
# it first, replacing every malformed sequence with U+FFFD.


def invalid_utf8(value: Column, data_type: DataType) -> Column | None:
    """True when a string anywhere in ``value`` (of Spark type ``data_type``: nested
    structs, arrays and maps included) is not valid UTF-8, else false; None when the type
    holds no string at all."""
    if isinstance(data_type, StringType):
        return F.coalesce(value.cast("binary") != F.encode(value, "UTF-8"), F.lit(False))
    if isinstance(data_type, StructType):
        return _any([invalid_utf8(value[f.name], f.dataType) for f in data_type.fields])
    if isinstance(data_type, ArrayType):
        return _any_item(value, data_type.elementType)
    if isinstance(data_type, MapType):
        return _any([_any_item(F.map_keys(value), data_type.keyType),
                     _any_item(F.map_values(value), data_type.valueType)])
    return None


def _any_item(items: Column, item_type: DataType) -> Column | None:
    if not _holds_string(item_type):
        return None  # no per-item lambda at all

    def check(item: Column) -> Column:
        found = invalid_utf8(item, item_type)
        assert found is not None
        return found

    return F.coalesce(F.exists(items, check), F.lit(False))


def _holds_string(data_type: DataType) -> bool:
    if isinstance(data_type, StringType):
        return True
    if isinstance(data_type, StructType):
        return any(_holds_string(f.dataType) for f in data_type.fields)
    if isinstance(data_type, ArrayType):
        return _holds_string(data_type.elementType)
    if isinstance(data_type, MapType):
        return _holds_string(data_type.keyType) or _holds_string(data_type.valueType)
    return False


def _any(checks: list[Column | None]) -> Column | None:
    present = [c for c in checks if c is not None]
    if not present:
        return None
    found = present[0]
    for c in present[1:]:
        found = found | c
    return found


class ReaderBehindWriter(RuntimeError):
    """A writer schema has fields the subject's latest version lacks, and nothing says that
    version dropped them: decoding into it would lose their data without a trace."""


def missing_fields(writer_text: str, reader_text: str) -> list[str]:
    """The fields (paths, nested records included) of ``writer`` that ``reader`` has no
    field for, by name or alias: what Avro resolution would drop when reading it."""
    writer = avro.schema.parse(writer_text)
    reader = avro.schema.parse(reader_text)
    missing: list[str] = []
    _walk_missing(writer, reader, "", missing, set())
    return missing


def _records(schema: avro.schema.Schema) -> list[avro.schema.RecordSchema]:
    """The records a field's type can hold: itself, union branches, array items, map values."""
    if isinstance(schema, avro.schema.RecordSchema):
        return [schema]
    if isinstance(schema, avro.schema.UnionSchema):
        return [r for branch in schema.schemas for r in _records(branch)]
    if isinstance(schema, avro.schema.ArraySchema):
        return _records(schema.items)
    if isinstance(schema, avro.schema.MapSchema):
        return _records(schema.values)
    return []


def _walk_missing(
    writer: avro.schema.Schema, reader: avro.schema.Schema, path: str, missing: list[str],
    seen: set[tuple[str, str]],
) -> None:
    readers = _records(reader)
    for w in _records(writer):
        for r in readers:
            if len(readers) > 1 and w.name != r.name:
                continue  # among several records, a record resolves to its namesake
            if (w.fullname, r.fullname) in seen:
                continue  # recursive types: each pair once
            seen.add((w.fullname, r.fullname))
            by_name: dict[str, avro.schema.Field] = {}
            for f in r.fields:
                for name in (f.name, *(f.props.get("aliases") or ())):
                    by_name[name] = f
            for wf in w.fields:
                rf = by_name.get(wf.name)
                where = f"{path}.{wf.name}" if path else wf.name
                if rf is None:
                    missing.append(where)
                else:
                    _walk_missing(wf.type, rf.type, where, missing, seen)


def current_reader(schema_ids: Iterable[int], lookup: SchemaLookup) -> ReaderSchema:
    """The reader for a batch: refreshed at once when a writer has fields it lacks.

    Decided by the schemas' content, never by a version number (a registry may not
    tell a writer's version): a writer with a field the reader has no field for would
    lose that field's data in Avro's resolution, so the reader is re-read. If the
    subject's latest version still lacks the field, it was dropped on purpose only when
    that version is known to be later than the writer (a larger version under the
    subject, or, when the registry cannot tell the writer's version, a larger schema id:
    registries assign ids in registration order). Otherwise :class:`ReaderBehindWriter`
    fails the batch loudly: its offsets are not committed and nothing is dropped.
    :class:`streaming.registry.RegistryUnavailable` from the refresh fails it too.
    """
    reader = lookup.reader()
    writers = [w for i in schema_ids if (w := lookup.writer(i)) is not None]
    if not any(_loses_fields(w, reader) for w in writers):
        return reader
    reader = lookup.refresh_reader()
    for w in writers:
        lost = _loses_fields(w, reader)
        if lost and not _reader_is_later(w, reader):
            raise ReaderBehindWriter(
                f"writer schema id {w.schema_id} has field(s) {lost} that the latest version "
                f"of {reader.subject!r} (version {reader.version}, id {reader.schema_id}) "
                "lacks, and nothing says that version dropped them: decoding would lose "
                "their data, so the batch stops before its offsets are committed. Register "
                "the writer's schema under the subject (`make schemas`); the job then "
                "resumes by itself"
            )
    return reader


def _loses_fields(writer: WriterSchema, reader: ReaderSchema) -> list[str]:
    try:
        return missing_fields(writer.schema_str, reader.schema_str)
    except (avro.errors.AvroException, json.JSONDecodeError):
        return []  # not a valid schema: resolve_writers dead-letters its rows with the reason


def _reader_is_later(writer: WriterSchema, reader: ReaderSchema) -> bool:
    if writer.version is not None:
        return writer.version < reader.version
    return writer.schema_id < reader.schema_id


def batch_writers(
    framed: DataFrame, lookup: SchemaLookup
) -> tuple[ReaderSchema, dict[int, WriterResolution]]:
    """The reader for ``framed`` and every schema id of it resolved against that reader."""
    schema_ids = batch_schema_ids(framed)
    reader = current_reader(schema_ids, lookup)
    return reader, resolve_writers(schema_ids, lookup, reader)

