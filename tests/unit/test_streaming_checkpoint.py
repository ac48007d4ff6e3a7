"""A damaged checkpoint and records lost to retention: one clear line and an exit code the
supervisor stops on, instead of a Spark stack trace restarted forever.

The checkpoints here are written the way Spark's local checkpoint manager writes them
(a ``.<name>.crc`` beside each file); Kafka's earliest offsets are a stand-in (unit test).
"""

from __future__ import annotations

import json
import signal
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import streaming.__main__ as cli
import streaming.checkpoint as checkpoint_module
from contract.catalog import load_contract
from ops.status import stream_position
from streaming.checkpoint import (
    CheckpointDamaged,
    LostRange,
    lost_ranges,
    query_name,
    verify_checkpoint,
)

CONTRACT = load_contract()
META = '{"batchWatermarkMs":0,"batchTimestampMs":1}'


def write_with_crc(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    path.write_bytes(data)
    sums = [zlib.crc32(data[i:i + 512]) for i in range(0, len(data), 512)]
    path.with_name(f".{path.name}.crc").write_bytes(
        b"crc\x00" + struct.pack(">i", 512) + struct.pack(f">{len(sums)}I", *sums)
    )


def spark_checkpoint(root: Path, topic: str, batches: dict[int, dict[int, int]],
                     commits: list[int]) -> Path:
    write_with_crc(root / "metadata", '{"id":"33da4068-1725-41ac-a5be-c3a983e04d37"}')
    write_with_crc(root / "sources" / "0" / "0", "\x00v1\n" + json.dumps({topic: {"0": 0}}))
    for n, offsets in batches.items():
        source = json.dumps({topic: {str(p): o for p, o in offsets.items()}})
        write_with_crc(root / "offsets" / str(n), f"v1\n{META}\n{source}")
    for n in commits:
        write_with_crc(root / "commits" / str(n), 'v1\n{"nextBatchWatermarkMs":0}')
    return root


def test_an_intact_checkpoint_and_a_missing_one_pass(tmp_path: Path) -> None:
    verify_checkpoint(spark_checkpoint(tmp_path / "q", "t", {0: {0: 5}}, [0]))
    verify_checkpoint(tmp_path / "never-started")


def test_a_truncated_offsets_file_is_named(tmp_path: Path) -> None:
    ckpt = spark_checkpoint(tmp_path / "q", "t", {0: {0: 5}, 1: {0: 9}}, [0, 1])
    damaged = ckpt / "offsets" / "1"
    damaged.write_bytes(damaged.read_bytes()[:30])
    with pytest.raises(CheckpointDamaged) as caught:
        verify_checkpoint(ckpt)
    assert caught.value.path == damaged
    assert "truncated or overwritten" in caught.value.problem
    assert "docs/troubleshooting.md" in str(caught.value) and str(ckpt) in str(caught.value)


def test_a_flipped_byte_is_a_checksum_mismatch(tmp_path: Path) -> None:
    ckpt = spark_checkpoint(tmp_path / "q", "t", {0: {0: 5}}, [0])
    damaged = ckpt / "commits" / "0"
    data = bytearray(damaged.read_bytes())
    data[5] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(CheckpointDamaged, match="checksum mismatch") as caught:
        verify_checkpoint(ckpt)
    assert caught.value.path == damaged


def test_without_checksums_the_json_is_checked(tmp_path: Path) -> None:
    ckpt = spark_checkpoint(tmp_path / "q", "t", {0: {0: 5}}, [0])
    (ckpt / "offsets" / ".0.crc").unlink()
    (ckpt / "offsets" / "0").write_text(f'v1\n{META}\n{{"t":{{"0":')
    with pytest.raises(CheckpointDamaged, match="line 3 is not JSON"):
        verify_checkpoint(ckpt)


def test_lost_ranges_are_what_retention_deleted_before_the_committed_offset() -> None:
    assert lost_ranges("t", {0: 10, 1: 7, 2: 3}, {0: 4, 1: 9, 2: 3}) == [LostRange("t", 1, 7, 8)]
    assert lost_ranges("t", None, {0: 100}) == []  # never committed: starts at the earliest
    assert str(LostRange("t", 2, 1620, 2079)) == "t partition 2 offsets 1620-2079"


def test_status_names_the_lost_range_and_the_damaged_file(tmp_path: Path) -> None:
    ckpt = spark_checkpoint(tmp_path / "q", "t", {0: {0: 10, 1: 7}}, [0])
    lag, problems = stream_position("t", ckpt, end={0: 10, 1: 12}, earliest={0: 0, 1: 9})
    assert lag == "5 records"
    assert problems and "DATA LOST" in problems[0] and "t partition 1 offsets 7-8" in problems[0]
    assert stream_position("t", ckpt, end={0: 10, 1: 12}, earliest={0: 0, 1: 0})[1] == []
    (ckpt / "metadata").write_text("{")
    lag, problems = stream_position("t", ckpt, end={0: 10}, earliest={0: 0})
    assert lag == "unknown" and "checkpoint damaged" in problems[0] and "metadata" in problems[0]


# -- the job's exit codes: before Spark, before any service ---------------------------------


@pytest.fixture
def job_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The job's checkpoint under tmp_path; its signal handlers kept out of pytest's."""
    monkeypatch.setenv("SPARK_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setattr(signal, "signal", lambda *_: None)
    yield tmp_path / query_name(CONTRACT)


def events(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()
            if line.startswith("{")]


def test_a_damaged_checkpoint_exits_5_with_one_line_naming_the_file(
    job_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spark_checkpoint(job_env, CONTRACT.topic, {0: {0: 1}}, [0])
    (job_env / "commits" / "0").write_bytes(b"v1\n{")
    assert cli.main(["run"]) == cli.EXIT_CHECKPOINT_DAMAGED
    [event] = [e for e in events(capsys) if e["event"] == "checkpoint_damaged"]
    assert event["file"] == str(job_env / "commits" / "0")
    assert "Move the checkpoint directory" in event["error"]


def test_records_lost_to_retention_exit_4_naming_the_offsets(
    job_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spark_checkpoint(job_env, CONTRACT.topic, {0: {0: 100, 1: 1620, 2: 50}}, [0])
    monkeypatch.setattr(checkpoint_module, "earliest_offsets",
                        lambda *_a, **_k: {0: 0, 1: 2080, 2: 50})
    assert cli.main(["run"]) == cli.EXIT_DATA_LOST
    [event] = [e for e in events(capsys) if e["event"] == "data_lost"]
    assert event["ranges"] == [
        {"topic": CONTRACT.topic, "partition": 1, "first": 1620, "last": 2079}
    ]
    assert f"{CONTRACT.topic} partition 1 offsets 1620-2079" in event["error"]
