"""The compiled Avro encoder: the same bytes as fastavro (AvroSerializer's writer), faster."""

from __future__ import annotations

import io
import json
import logging
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest

from contract.wire import frame
from producers.avro_encoder import NotCompilable, compile_encoder, encoder_source, zigzag_varint
from producers.errors import SerializationFailed
from producers.kafka_producer import ContractProducer
from tests.unit.test_producer_kafka import CONTRACT, FAST_FAIL, records, settings_for

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILES = sorted([*REPO.glob("schemas/*.avsc"),
                       *REPO.glob("docs/examples/*.avsc")])


def reference(schema: dict[str, Any], schema_id: int, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return frame(schema_id, out.getvalue())


def random_value(rng: random.Random, field_type: Any, named: dict[str, Any] | None = None) -> Any:
    """A value for ``field_type``: awkward on purpose (unicode, long, negative, None, empty
    collections, extreme decimals). ``named``: the named types met so far, by full name."""
    named = {} if named is None else named
    if isinstance(field_type, list):
        return None if rng.random() < 0.3 else random_value(
            rng, next(t for t in field_type if t != "null"), named)
    if isinstance(field_type, str) and field_type in named:
        return random_value(rng, named[field_type], named)
    logical = field_type.get("logicalType") if isinstance(field_type, dict) else None
    kind = field_type["type"] if isinstance(field_type, dict) else field_type
    if isinstance(field_type, dict) and kind in ("record", "enum", "fixed"):
        namespace = field_type.get("namespace")
        named[field_type["name"]] = field_type
        if namespace:
            named[f"{namespace}.{field_type['name']}"] = field_type
    if logical == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128)))
    if logical == "timestamp-millis":
        moment = datetime(1900, 1, 1, tzinfo=UTC) + timedelta(
            milliseconds=rng.randrange(0, 250 * 365 * 86_400_000))
        return moment if rng.random() < 0.8 else int(moment.timestamp() * 1000)
    if logical == "date":
        return date(1900, 1, 1) + timedelta(days=rng.randrange(0, 250 * 365))
    if logical == "decimal":
        digits = field_type["precision"]
        unscaled = rng.choice([0, 1, -1, 10**digits - 1, -(10**digits - 1),
                               rng.randrange(-(10**digits - 1), 10**digits)])
        return Decimal(unscaled).scaleb(-field_type.get("scale", 0))
    if kind == "record":
        return {f["name"]: random_value(rng, f["type"], named) for f in field_type["fields"]}
    if kind == "enum":
        return rng.choice(field_type["symbols"])
    if kind == "fixed":
        return bytes(rng.getrandbits(8) for _ in range(field_type["size"]))
    if kind == "array":
        return [random_value(rng, field_type["items"], named)
                for _ in range(rng.choice([0, 1, 3]))]
    if kind == "map":
        return {f"k{i}": random_value(rng, field_type["values"], named)
                for i in range(rng.choice([0, 1, 3]))}
    if kind == "bytes":
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 64])))
    if kind == "string":
        alphabet = "aZ09 -ñÅß日本語Ωآرمین🙂"
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 5, 63, 64, 300])))
    if kind in ("int", "long"):
        return rng.choice([0, -1, 1, 63, 64, -65, 2**31 - 1, -(2**31)])
    if kind == "boolean":
        return rng.random() < 0.5
    if kind in ("double", "float"):
        return rng.choice([0.0, -1.5, 0.25, 1024.0])  # exact in float too
    raise AssertionError(f"no generator for {field_type}")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_contract_compiles_to_the_reference_bytes(path: Path) -> None:
    schema = json.loads(path.read_text())
    encode = compile_encoder(path.read_text(), 42)
    rng = random.Random(path.name)
    for _ in range(300):
        named: dict[str, Any] = {}
        record = {f["name"]: random_value(rng, f["type"], named) for f in schema["fields"]}
        assert encode(record) == reference(schema, 42, record), record


def test_mapped_api_users_encode_as_the_reference() -> None:
    encode = compile_encoder(CONTRACT.schema_str, 7)
    for record in records(200):
        assert encode(record) == reference(CONTRACT.schema, 7, record)


@pytest.mark.parametrize(("n", "encoded"), [
    (0, b"\x00"), (-1, b"\x01"), (1, b"\x02"), (63, b"\x7e"), (64, b"\x80\x01"),
    (-65, b"\x81\x01"), (2**63 - 1, b"\xfe" + b"\xff" * 8 + b"\x01"),
])
def test_zigzag_varint(n: int, encoded: bytes) -> None:
    assert zigzag_varint(n) == encoded


@pytest.mark.parametrize("field_type", [
    # nested records, arrays, maps, enums, fixed: compiled (tests/unit/test_rich_contract.py)
    {"type": "record", "name": "R", "fields": [{"name": "again", "type": ["null", "R"]}]},
    ["null", "string", "long"],
    "SomeNamedType",
])
def test_what_is_not_compiled_says_so(field_type: Any) -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "f", "type": field_type}]}
    with pytest.raises(NotCompilable):
        compile_encoder(json.dumps(schema), 1)


def test_the_plain_case_only() -> None:
    encode = compile_encoder(CONTRACT.schema_str, 7)
    record = records(1)[0]
    with pytest.raises(KeyError):
        encode({k: v for k, v in record.items() if k != "gender"})
    with pytest.raises((TypeError, AttributeError)):
        encode({**record, "first_name": 12})
    assert "def encode(record):" in encoder_source(CONTRACT.schema)


def test_the_producer_hands_the_rest_to_avro_serializer(registry: Any) -> None:
    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    record = records(1)[0]
    with ContractProducer(settings_for(url), CONTRACT, tuning=FAST_FAIL) as producer:
        assert producer.encode(record) == reference(CONTRACT.schema, 7, record)
        # A missing nullable field: AvroSerializer (fastavro) writes its default.
        partial = {k: v for k, v in record.items() if k != "gender"}
        assert producer.encode(partial) == reference(CONTRACT.schema, 7, {**partial,
                                                                          "gender": None})
        with pytest.raises(SerializationFailed, match=str(record["id"])):
            producer.encode({**record, "first_name": 12})


def test_an_encoder_that_disagrees_is_dropped_for_the_run(
    registry: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import producers.kafka_producer as module

    url, fake = registry
    fake.registered[CONTRACT.subject] = CONTRACT.schema_str
    monkeypatch.setattr(module, "compile_encoder", lambda *_: lambda record: b"wrong")
    record = records(1)[0]
    with caplog.at_level(logging.ERROR), \
            ContractProducer(settings_for(url), CONTRACT, tuning=FAST_FAIL) as producer:
        assert producer.encode(record) == reference(CONTRACT.schema, 7, record)
        assert producer.encode(record) == reference(CONTRACT.schema, 7, record)
    assert "disagrees with AvroSerializer" in caplog.text
