"""Reading the stream's progress from a Spark checkpoint, and the lag it implies."""

from __future__ import annotations

from pathlib import Path

from ops.status import lag
from streaming.checkpoint import committed_offsets

META = '{"batchWatermarkMs":0,"batchTimestampMs":1}'


def _checkpoint(tmp_path: Path, batches: dict[int, str], commits: list[int]) -> Path:
    (tmp_path / "offsets").mkdir()
    (tmp_path / "commits").mkdir()
    for n, offsets in batches.items():
        (tmp_path / "offsets" / str(n)).write_text(f"v1\n{META}\n{offsets}")
    for n in commits:
        (tmp_path / "commits" / str(n)).write_text("v1\n{}")
    return tmp_path


def test_committed_offsets_are_those_of_the_last_committed_batch(tmp_path: Path) -> None:
    ckpt = _checkpoint(
        tmp_path,
        {0: '{"t":{"0":5,"1":7}}', 1: '{"t":{"0":9,"1":7}}', 2: '{"t":{"0":12,"1":8}}'},
        commits=[0, 1],  # batch 2 planned, not yet done
    )
    assert committed_offsets(ckpt, "t") == {0: 9, 1: 7}


def test_no_committed_batch_means_unknown(tmp_path: Path) -> None:
    assert committed_offsets(_checkpoint(tmp_path, {0: '{"t":{"0":1}}'}, []), "t") is None


def test_lag_counts_records_behind_the_end_of_each_partition() -> None:
    assert lag({0: 10, 1: 7}, {0: 9, 1: 7}) == 1
    assert lag({0: 10, 1: 7}, {0: 9}) == 8
    assert lag({0: 10}, None) is None
