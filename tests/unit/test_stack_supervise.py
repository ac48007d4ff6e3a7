"""The supervisor retries an outage forever (capped pause) and stops when only a person can help.

Real child processes (the test's own Python) stand in for the streaming job: each run
appends to a counter file and exits with the code the test planned for that run.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import streaming.__main__ as streaming_cli
from stack import supervise as sup
from streaming.job import EXIT_STUCK


@pytest.fixture(autouse=True)
def _keep_signal_handlers() -> Iterator[None]:
    """The supervisor forwards SIGTERM/SIGINT; give pytest its own handlers back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


NO_PAUSE = {"SUPERVISE_BACKOFF_BASE_SECONDS": "0", "SUPERVISE_BACKOFF_CAP_SECONDS": "0"}


def job(counter: Path, codes: list[int]) -> list[str]:
    """A job whose n-th run exits ``codes[n]`` (the last code once the list is used up);
    a negative code kills the run with that signal."""
    script = (
        "import os, pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = len(p.read_text()) if p.exists() else 0\n"
        "p.write_text('x' * (n + 1))\n"
        f"codes = {codes!r}\n"
        "code = codes[min(n, len(codes) - 1)]\n"
        "if code < 0:\n"
        "    os.kill(os.getpid(), -code)  # dies by the signal, as a kill -9 does\n"
        "sys.exit(code)\n"
    )
    return ["--", sys.executable, "-c", script]


def runs(counter: Path) -> int:
    return len(counter.read_text())


def test_an_outage_is_retried_past_the_old_give_up_until_the_job_recovers(
    tmp_path: Path,
) -> None:
    # 30 failed starts (the registry is down), then the job runs and finishes. The old
    # supervisor gave up after 20 restarts, leaving the pipeline stopped after the outage.
    counter = tmp_path / "runs"
    assert sup.main(job(counter, [1] * 30 + [0]), env=NO_PAUSE) == 0
    assert runs(counter) == 31


def test_a_stuck_batch_and_a_kill_are_restarted_too(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    assert sup.main(job(counter, [EXIT_STUCK, -signal.SIGKILL, 0]), env=NO_PAUSE) == 0
    assert runs(counter) == 3


@pytest.mark.parametrize("code", [2, 4, 5])
def test_refusal_data_loss_and_a_damaged_checkpoint_stop_at_once(
    tmp_path: Path, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    counter = tmp_path / "runs"
    assert sup.main(["--max-restarts", "3", *job(counter, [code, 0])], env=NO_PAUSE) == code
    assert runs(counter) == 1
    assert "not restarting" in capsys.readouterr().out


def test_an_explicit_limit_still_gives_up(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    env = {**NO_PAUSE, "SUPERVISE_MAX_RESTARTS": "2"}
    assert sup.main(job(counter, [1]), env=env) == 1
    assert runs(counter) == 3  # first run + two restarts


def test_the_pause_doubles_to_its_cap_and_never_overflows() -> None:
    assert [sup.backoff_seconds(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert sup.backoff_seconds(10_000) == 60  # restarts never stop: no float overflow
    assert sup.backoff_seconds(5, base=0.5, cap=3) == 3


def test_pause_settings_come_from_the_environment() -> None:
    args = sup.build_parser({"SUPERVISE_BACKOFF_CAP_SECONDS": "5"}).parse_args(["x"])
    assert args.backoff_cap == 5 and args.max_restarts is None
    with pytest.raises(SystemExit, match="SUPERVISE_BACKOFF_CAP_SECONDS"):
        sup.build_parser({"SUPERVISE_BACKOFF_CAP_SECONDS": "soon"})


def test_stop_codes_are_the_streaming_jobs() -> None:
    assert sup.EXIT_REFUSED == streaming_cli.EXIT_REFUSED
    assert sup.EXIT_DATA_LOST == streaming_cli.EXIT_DATA_LOST
    assert sup.EXIT_CHECKPOINT_DAMAGED == streaming_cli.EXIT_CHECKPOINT_DAMAGED
    assert streaming_cli.EXIT_FAILED not in sup.STOP_CODES and EXIT_STUCK not in sup.STOP_CODES
