"""Where the streaming query keeps its checkpoint, what its last committed batch read,
whether the checkpoint can be read at all, and whether Kafka still holds what it has not.

No Spark here: ``make status`` reads the checkpoint without starting a JVM, and the job
checks it before Spark does, so that a damaged file or a gap in Kafka is one clear line
(which file, which offsets, what to do) instead of a Spark stack trace.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from contract.catalog import Contract

Offsets = dict[int, int]  # partition -> offset

RUNBOOK = "docs/troubleshooting.md"
# Hadoop's ChecksumFileSystem writes ``.<name>.crc`` beside every checkpoint file: the
# magic ``crc\0``, the bytes per checksum (big-endian int), then one CRC-32 per chunk.
_CRC_MAGIC = b"crc\x00"


def query_name(contract: Contract) -> str:
    return f"{contract.topic}_to_{contract.keyspace}_{contract.table}"


def checkpoint_location(settings: Settings, contract: Contract) -> Path:
    return Path(settings.spark_checkpoint_dir) / query_name(contract)


class CheckpointDamaged(RuntimeError):
    """A file of the checkpoint cannot be read as Spark wrote it; names the file."""

    def __init__(self, path: Path, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(
            f"checkpoint file {path} is damaged ({problem}); the query cannot resume from "
            f"it. Move the checkpoint directory {_checkpoint_root(path)} aside and restart: "
            f"the stream re-reads what is still in Kafka (upserts make that harmless); "
            f"see {RUNBOOK}, 'The checkpoint is damaged'"
        )


@dataclass(frozen=True)
class LostRange:
    """Offsets ``first..last`` of one partition, deleted before the job read them."""

    topic: str
    partition: int
    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return f"{self.topic} partition {self.partition} offsets {self.first}-{self.last}"


class DataLost(RuntimeError):
    """Kafka no longer holds records the job has not read (retention ran first)."""

    def __init__(self, ranges: list[LostRange]):
        self.ranges = ranges
        total = sum(r.count for r in ranges)
        super().__init__(
            f"{total} records were deleted from Kafka before the stream read them: "
            + "; ".join(str(r) for r in ranges)
            + f". They are not in Cassandra. See {RUNBOOK}, 'Records were lost to retention'"
        )


def _checkpoint_root(path: Path) -> Path:
    for parent in path.parents:
        if (parent / "metadata").exists() or (parent / "offsets").is_dir():
            return parent
    return path.parent


def committed_offsets(checkpoint: Path, topic: str) -> Offsets | None:
    """The source offsets of the last committed micro-batch in a Spark checkpoint.

    ``offsets/<n>`` holds a version line, batch metadata, then one JSON line per
    source; ``commits/<n>`` exists once batch ``n`` is done. The offsets of a
    committed batch are where the next one starts, i.e. what has been processed.
    """
    commits = [int(p.name) for p in (checkpoint / "commits").glob("[0-9]*") if p.name.isdigit()]
    if not commits:
        return None
    lines = (checkpoint / "offsets" / str(max(commits))).read_text().splitlines()
    for line in lines[2:]:
        source = json.loads(line)
        if topic in source:
            return {int(p): int(o) for p, o in source[topic].items()}
    return None


def _crc_problem(path: Path, data: bytes) -> str | None:
    crc_file = path.with_name(f".{path.name}.crc")
    try:
        crc = crc_file.read_bytes()
    except FileNotFoundError:
        return None  # written by something else than Hadoop's local file system: no sums
    if len(crc) < 8 or crc[:4] != _CRC_MAGIC or (len(crc) - 8) % 4:
        return f"its checksum file {crc_file.name} is damaged"
    (chunk,) = struct.unpack(">i", crc[4:8])
    if chunk <= 0:
        return f"its checksum file {crc_file.name} is damaged"
    sums = struct.unpack(f">{(len(crc) - 8) // 4}I", crc[8:])
    actual = tuple(zlib.crc32(data[i:i + chunk]) for i in range(0, len(data), chunk))
    if len(actual) != len(sums):
        return (f"{len(data)} bytes, but {crc_file.name} has sums for "
                f"{len(sums)} chunks of {chunk}: truncated or extended")
    if actual != sums:
        first = next(i for i, (a, b) in enumerate(zip(actual, sums, strict=True)) if a != b)
        return (f"checksum mismatch in bytes {first * chunk}-{(first + 1) * chunk - 1}: "
                "truncated or overwritten")
    return None


def _json_lines_problem(text: str, *, first_json_line: int, version_line: bool) -> str | None:
    lines = text.splitlines()
    if version_line and (not lines or not lines[0].lstrip("\x00").startswith("v")):
        return "no version line"
    body = lines[first_json_line:]
    if not body:
        return "empty"
    for number, line in enumerate(body, start=first_json_line + 1):
        try:
            json.loads(line)
        except json.JSONDecodeError as exc:
            return f"line {number} is not JSON ({exc.msg})"
    return None


def verify_checkpoint(checkpoint: Path) -> None:
    """Raise :class:`CheckpointDamaged` naming the first file Spark could not read.

    Checked: ``metadata``, every ``offsets/<n>`` and ``commits/<n>``, the source's initial
    offsets (``sources/*/0``): their checksum files, then their JSON. A checkpoint that
    does not exist yet is fine (the query starts from the earliest offsets).
    """
    if not checkpoint.exists():
        return
    files: list[tuple[Path, int, bool]] = []  # path, first JSON line, has a version line
    if (checkpoint / "metadata").exists():
        files.append((checkpoint / "metadata", 0, False))
    for log_dir, first in (("offsets", 1), ("commits", 1)):
        for path in sorted((checkpoint / log_dir).glob("[0-9]*"), key=lambda p: p.name):
            if path.name.isdigit():
                files.append((path, first, True))
    files += [(p, 1, True) for p in sorted((checkpoint / "sources").glob("*/0"))]
    for path, first, versioned in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CheckpointDamaged(path, f"unreadable: {exc.strerror}") from exc
        problem = _crc_problem(path, data)
        if problem is None:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                problem = "not UTF-8 text"
            else:
                problem = _json_lines_problem(text, first_json_line=first, version_line=versioned)
        if problem is not None:
            raise CheckpointDamaged(path, problem)


def lost_ranges(topic: str, committed: Offsets | None, earliest: Offsets) -> list[LostRange]:
    """What retention deleted before the job read it: ``committed[p] .. earliest[p] - 1``.

    ``committed`` is where the next batch starts (:func:`committed_offsets`); a partition
    whose earliest offset in Kafka is past it lost the records in between. Without a
    committed batch the job starts at the earliest offset, and nothing it knew of is lost.
    """
    if committed is None:
        return []
    return [
        LostRange(topic, p, committed[p], earliest[p] - 1)
        for p in sorted(committed)
        if p in earliest and earliest[p] > committed[p]
    ]


class OffsetsUnavailable(RuntimeError):
    """Kafka did not tell the earliest offsets (the broker is out): retry later."""


def earliest_offsets(settings: Settings, topic: str, partitions: int,
                     *, timeout: float = 10.0) -> Offsets:
    """The log start offset (the first record retention kept) of every partition."""
    # Imported here: make status and the tests of this module's pure half need no client.
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer({**settings.kafka_client_config(), "group.id": "userstream-checkpoint",
                         "enable.auto.commit": False})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[0]
            for p in range(partitions)
        }
    except KafkaException as exc:
        raise OffsetsUnavailable(
            f"Kafka at {settings.kafka_bootstrap_servers} did not give the earliest offsets "
            f"of {topic}: {exc.args[0]}"
        ) from exc
    finally:
        consumer.close()


def check_not_lost(settings: Settings, contract: Contract) -> None:
    """Raise :class:`DataLost` when Kafka deleted records the checkpoint has not read."""
    committed = committed_offsets(checkpoint_location(settings, contract), contract.topic)
    if committed is None:
        return
    earliest = earliest_offsets(settings, contract.topic, contract.partitions)
    lost = lost_ranges(contract.topic, committed, earliest)
    if lost:
        raise DataLost(lost)
