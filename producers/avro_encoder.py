"""A Confluent-framed Avro encoder compiled from the contract's schema: the producer's hot path.

confluent-kafka's ``AvroSerializer`` spends ~10 µs a record in fastavro's general writer
(type dispatch and union resolution per field, per record), which alone keeps a Python
producer under half of Kafka's own ``ProducerPerformance``. A contract is known before
the first record, so this module turns it into one straight-line Python function: per
field a dictionary look-up, a UTF-8 encode, a length prefix from a table. Same bytes,
several times faster.

Scope, on purpose: records (nested ones too), primitives, enums, fixed, arrays, maps,
``[null, T]`` unions, named-type references and the logical types fastavro knows for them
(their conversions are fastavro's own functions, so a ``datetime`` becomes the same
``long`` and a ``Decimal`` the same two's-complement bytes). Anything else (wider unions,
recursive records) is not compiled: :func:`compile_encoder` raises :class:`NotCompilable`
naming the field, and the producer logs it and keeps using ``AvroSerializer``. The
producer also checks the first record of every run against ``AvroSerializer``'s bytes
before trusting the encoder.
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


_NAMED = ("record", "enum", "fixed")


class _Compiler:
    """Turns a schema into the statements of ``encode``, depth first.

    Named types are remembered where they are defined (by full name) so that a
    later reference by name compiles to the same code; enum indexes and decimal schemas
    become constants of the encoder's namespace (``C0``, ``C1``...).
    """

    def __init__(self) -> None:
        self.named: dict[str, dict[str, Any]] = {}
        self.constants: dict[str, Any] = {}
        self._vars = 0
        self._records: list[str] = []  # records being compiled: a recursive one is refused

    def constant(self, value: Any) -> str:
        name = f"C{len(self.constants)}"
        self.constants[name] = value
        return name

    def variable(self) -> str:
        self._vars += 1
        return f"v{self._vars}"

    def lines(self, schema: Any, var: str, indent: str, path: str, space: str = "") -> list[str]:
        """Statements appending the encoding of ``var`` (a value of ``schema``) to ``parts``."""
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _value_lines(schema, None, var, indent)
            named = self.named.get(schema) or self.named.get(f"{space}.{schema}")
            if named is None:
                raise NotCompilable(f"field {path}: named type {schema!r}")
            return self.lines(named, var, indent, path, space)
        if isinstance(schema, list):
            return self._union(schema, var, indent, path, space)
        if not isinstance(schema, dict):
            raise NotCompilable(f"field {path}: type {json.dumps(schema)[:60]}")
        kind = schema.get("type")
        if kind in _NAMED:
            space = self._register(schema, space)
        if kind == "record":
            return self._record(schema, var, indent, path, space)
        if kind == "enum":
            index = {s: zigzag_varint(i) for i, s in enumerate(schema["symbols"])}
            # An unknown symbol is a KeyError: AvroSerializer then explains it.
            return [f"{indent}append({self.constant(index)}[{var}])"]
        if kind == "array":
            item = self.variable()
            return [f"{indent}if len({var}) > 0:",
                    f"{indent}    append(VARINT(len({var})))",
                    f"{indent}    for {item} in {var}:",
                    *self.lines(schema["items"], item, indent + "        ", path + "[]", space),
                    f"{indent}append(ZERO)"]
        if kind == "map":
            key, value = self.variable(), self.variable()
            return [f"{indent}if len({var}) > 0:",
                    f"{indent}    append(VARINT(len({var})))",
                    f"{indent}    for {key}, {value} in {var}.items():",
                    *_value_lines("string", None, key, indent + "        "),
                    *self.lines(schema["values"], value, indent + "        ", path + "{}", space),
                    f"{indent}append(ZERO)"]
        logical = schema.get("logicalType")
        if logical == "decimal" and kind in ("bytes", "fixed"):
            # fastavro's own conversion, given the schema's precision and scale (and size)
            convert = f"LOGICAL[{f'{kind}-decimal'!r}]({var}, {self.constant(dict(schema))})"
            if kind == "fixed":
                return [f"{indent}append({convert})"]
            return [f"{indent}{var} = {convert}", *_value_lines("bytes", None, var, indent)]
        if kind == "fixed":
            # fastavro writes whatever it is given; only the right size is the plain case
            return [f"{indent}if len({var}) != {int(schema['size'])}: "
                    f"raise ValueError('wrong size for fixed')",
                    f"{indent}append(bytes({var}))"]
        if kind in _PRIMITIVES:
            if logical is not None and f"{kind}-{logical}" not in LOGICAL_WRITERS:
                logical = None  # an unknown logical type is its underlying type (Avro spec)
            if logical is not None and kind == "bytes":
                raise NotCompilable(f"field {path}: logical type {logical} on bytes")
            return _value_lines(kind, logical, var, indent)
        raise NotCompilable(f"field {path}: type {json.dumps(schema)[:60]}")

    def _register(self, schema: dict[str, Any], space: str) -> str:
        """Remember a named type; the namespace its own names resolve in."""
        name = schema["name"]
        space = schema.get("namespace", space) if "." not in name else name.rsplit(".", 1)[0]
        short = name.rsplit(".", 1)[-1]
        self.named[f"{space}.{short}" if space else short] = schema
        return space

    def _record(self, schema: dict[str, Any], var: str, indent: str, path: str,
                space: str) -> list[str]:
        name = schema["name"]
        if name in self._records:
            raise NotCompilable(f"field {path}: record {name} is recursive")
        self._records.append(name)
        lines = []
        for f in schema["fields"]:
            value = self.variable()
            lines.append(f"{indent}{value} = {var}[{f['name']!r}]")  # missing: KeyError
            lines += self.lines(f["type"], value, indent, child_path(path, f["name"]), space)
        self._records.pop()
        return lines

    def _union(self, schema: list[Any], var: str, indent: str, path: str,
               space: str) -> list[str]:
        branches = [b for b in schema if b != "null"]
        if len(schema) != 2 or len(branches) != 1:
            raise NotCompilable(f"field {path}: only [null, T] unions are compiled")
        null_index = schema.index("null")
        return [f"{indent}if {var} is None:",
                f"{indent}    append({_length_literal(null_index)})",
                f"{indent}else:",
                f"{indent}    append({_length_literal(1 - null_index)})",
                *self.lines(branches[0], var, indent + "    ", path, space)]


def child_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


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


def _compile(schema: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if schema.get("type") != "record":
        raise NotCompilable("the top level is not a record")
    compiler = _Compiler()
    body = compiler.lines(dict(schema), "record", "    ", "")
    source = "\n".join(["def encode(record):", "    parts = [HEADER]",
                         "    append = parts.append", *body, "    return b''.join(parts)"])
    return source, compiler.constants


def encoder_source(schema: Mapping[str, Any]) -> str:
    """The Python source of the encoder's body for ``schema`` (readable, for tests)."""
    return _compile(schema)[0]


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
    source, constants = _compile(json.loads(schema_str))
    namespace: dict[str, Any] = {
        **constants,
        "HEADER": header(schema_id),
        "SHORT": _LENGTHS,
        "VARINT": zigzag_varint,
        "FLOAT": struct.Struct("<f").pack,
        "DOUBLE": struct.Struct("<d").pack,
        "TRUE": b"\x01",
        "FALSE": b"\x00",
        "ZERO": b"\x00",
        "LOGICAL": LOGICAL_WRITERS,
        "bad": _bad,
    }
    exec(compile(source, f"<avro encoder for schema id {schema_id}>", "exec"), namespace)  # noqa: S102
    encode: Encoder = namespace["encode"]
    return encode
