"""python -m stack status: a never-started stream is not a failure; a dead one is.
python -m userstream status (make status) adds the pipeline's view."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

import ops.status
import stack.__main__ as cli
import userstream.__main__ as entry
from stack.services import Context, Service


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The services whose health decides the exit code, per call; every one healthy."""
    monkeypatch.setenv("STACK_HOME", str(tmp_path))
    calls: list[list[str]] = []

    def print_status(ctx: Context, services: Sequence[Service]) -> bool:
        calls.append([s.name for s in services])
        return "stream" not in calls[-1]  # a counted stream is down in these tests

    monkeypatch.setattr(cli.launcher, "print_status", print_status)
    monkeypatch.setattr(ops.status, "pipeline_status", lambda settings: ["pipeline"])
    return calls


def test_a_stream_never_started_is_listed_but_not_counted(
    counted: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["status"]) == 0
    assert "stream" not in counted[0] and "kafka" in counted[0]
    assert "stream not running (optional" in capsys.readouterr().out


def test_a_stream_started_and_not_stopped_counts_every_time(
    counted: list[list[str]], tmp_path: Path
) -> None:
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "stream.wanted").touch()  # make stream-up, then it died
    assert cli.main(["status"]) == 1
    assert cli.main(["status"]) == 1  # not only until the stale pid file is cleaned
    assert "stream" in counted[0] and "stream" in counted[1]


def test_a_named_stream_always_counts(counted: list[list[str]]) -> None:
    assert cli.main(["status", "stream"]) == 1
    assert counted[0] == ["stream"]


def test_make_status_adds_the_pipeline_only_when_no_service_is_named(
    counted: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert entry.main(["status"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("pipeline")
    assert entry.main(["status", "kafka"]) == 0
    assert "pipeline" not in capsys.readouterr().out


def test_the_stack_alone_prints_no_pipeline(
    counted: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["status"]) == 0
    assert "pipeline" not in capsys.readouterr().out
