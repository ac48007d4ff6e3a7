"""A Confluent-framed Avro encoder compiled from the contract's schema: the producer's hot path.

confluent-kafka's ``AvroSerializer`` spends ~10 µs a record in fastavro's general writer
(type dispatch and union resolution per field, per record), which alone keeps a Python
producer under half of Kafka's own ``ProducerPerformance``. A contract is known before
the first record, so this module turns it into one straight-line Python function: per
field a dictionary look-up, a UTF-8 encode, a length prefix from a table. Same bytes,
several times faster.

Scope, on purpose: a top-level record of primitive fields, ``[null, T]`` unions and the
logical types fastavro knows for them (their conversions are fastavro's own functions,
so a ``datetime`` becomes the same ``long``). Anything else (nested records, arrays,
maps, enums, fixed, wider unions) is not compiled: :func:`compile_encoder` returns None
and the producer keeps using ``AvroSerializer``. The producer also checks the first
record of every run against ``AvroSerializer``'s bytes before trusting the encoder.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from typing import Any

from fastavro._write_py import LOGICAL_WRITERS

from contract.wire import header

__all__ = ["Encoder", "NotCompilable", "compile_encoder", "encoder_source"]

Encoder = Callable[[Mapping[str, Any]], bytes]
_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "string", "bytes")
_SHORT = 64  # lengths below this take one zig-zag varint byte: from a table


class NotCompilable(ValueError):
    """The schema uses something the compiler does not handle (use AvroSerializer)."""


def zigzag_varint(n: int) -> bytes:
    """Avro's ``long`` encoding: zig-zag, then 7 bits a byte, low bits first."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z & ~0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


_LENGTHS = tuple(zigzag_varint(i) for i in range(_SHORT))


def _branch(field_type: Any) -> tuple[str, str | None]:
    """(Avro primitive, logical type or None) of a non-union field type."""
    if isinstance(field_type, str):
        if field_type not in _PRIMITIVES:
            raise NotCompilable(f"named type {field_type!r}")
        return field_type, None
    if isinstance(field_type, dict) and field_type.get("type") in _PRIMITIVES:
        logical = field_type.get("logicalType")
        if logical is not None and f"{field_type['type']}-{logical}" not in LOGICAL_WRITERS:
            logical = None  # an unknown logical type is its underlying type (Avro spec)
        if logical is not None and field_type["type"] in ("bytes", "fixed"):
            raise NotCompilable(f"logical type {logical} on {field_type['type']}")
        return field_type["type"], logical
    raise NotCompilable(f"type {json.dumps(field_type)[:60]}")


def _value_lines(kind: str, logical: str | None, var: str, indent: str) -> list[str]:
    """Statements appending the encoding of ``var`` (a value of ``kind``) to ``parts``."""
    lines = []
    if logical is not None:
        # fastavro's own conversion (datetime -> long, UUID -> str), skipped when the value
        # already has the underlying type, as fastavro's functions would return it as is.
        plain = {"string": "str", "int": "int", "long": "int"}.get(kind)
        convert = f"{var} = LOGICAL[{f'{kind}-{logical}'!r}]({var}, None)"
        lines.append(f"{indent}if {var}.__class__ is not {plain}: {convert}" if plain
                     else f"{indent}{convert}")
    if kind == "null":
        lines.append(f"{indent}if {var} is not None: raise TypeError('expected null')")
    elif kind == "boolean":
        lines.append(f"{indent}append(TRUE if {var} is True else FALSE if {var} is False "
                     f"else bad({var}, 'boolean'))")
    elif kind in ("int", "long"):
        lines.append(f"{indent}append(VARINT({var}.__index__()))")
    elif kind == "float":
        lines.append(f"{indent}append(FLOAT({var}))")
    elif kind == "double":
        lines.append(f"{indent}append(DOUBLE({var}))")
    elif kind in ("string", "bytes"):
        data = f"{var}.encode()" if kind == "string" else f"bytes({var})"
        lines += [f"{indent}b = {data}", f"{indent}n = len(b)",
                  f"{indent}append(SHORT[n] if n < {_SHORT} else VARINT(n))",
                  f"{indent}append(b)"]
    return lines


def encoder_source(schema: Mapping[str, Any]) -> str:
    """The Python source of the encoder's body for ``schema`` (readable, for tests)."""
    if schema.get("type") != "record":
        raise NotCompilable("the top level is not a record")
    lines = ["def encode(record):", "    parts = [HEADER]", "    append = parts.append"]
    for f in schema["fields"]:
        name, field_type = f["name"], f["type"]
        lines.append(f"    v = record[{name!r}]")  # missing: KeyError, the caller decides
        if isinstance(field_type, list):
            branches = [b for b in field_type if b != "null"]
            if len(field_type) != 2 or len(branches) != 1:
                raise NotCompilable(f"field {name}: only [null, T] unions are compiled")
            null_index = field_type.index("null")
            kind, logical = _branch(branches[0])
            lines += [
                "    if v is None:",
                f"        append({_length_literal(null_index)})",
                "    else:",
                f"        append({_length_literal(1 - null_index)})",
                *_value_lines(kind, logical, "v", "        "),
            ]
        else:
            kind, logical = _branch(field_type)
            lines += _value_lines(kind, logical, "v", "    ")
    lines.append("    return b''.join(parts)")
    return "\n".join(lines)


def _length_literal(index: int) -> str:
    return repr(zigzag_varint(index))


def _bad(value: Any, expected: str) -> bytes:
    raise TypeError(f"expected {expected}, got {type(value).__name__}")


def compile_encoder(schema_str: str, schema_id: int) -> Encoder:
    """``record -> frame`` (magic byte, ``schema_id``, Avro body) for the contract's schema.

    Raises :class:`NotCompilable` when the schema is outside the compiler's scope. The
    encoder takes the plain case only: a record with every field, each of its own type.
    Anything else raises (``KeyError``, ``TypeError``, ``AttributeError``...) and the
    caller hands the record to ``AvroSerializer``, whose rules (defaults for missing
    fields, lenient coercions, error messages) then apply unchanged.
    """
    source = encoder_source(json.loads(schema_str))
    namespace: dict[str, Any] = {
        "HEADER": header(schema_id),
        "SHORT": _LENGTHS,
        "VARINT": zigzag_varint,
        "FLOAT": struct.Struct("<f").pack,
        "DOUBLE": struct.Struct("<d").pack,
        "TRUE": b"\x01",
        "FALSE": b"\x00",
        "LOGICAL": LOGICAL_WRITERS,
        "bad": _bad,
    }
    exec(compile(source, f"<avro encoder for schema id {schema_id}>", "exec"), namespace)  # noqa: S102
    encode: Encoder = namespace["encode"]
    return encode
