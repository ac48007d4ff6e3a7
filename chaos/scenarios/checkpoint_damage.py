"""checkpoint-damage: a checkpoint file of the stopped stream is truncated or corrupted.

The job must not die in a Spark stack trace and be restarted forever: it exits 5 with one
``checkpoint_damaged`` line naming the file and what to do, the supervisor stops, and
``make status`` names the file. Then docs/troubleshooting.md's runbook ("The checkpoint is
damaged") is followed: move the checkpoint aside and start the stream again; it re-reads
what Kafka still holds (here: everything, including a page produced while it was down),
and upserts make the replay harmless. Nothing still in Kafka is lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from chaos.load import pipeline
from chaos.scenario import ChaosContext, ChaosError, Outcome
from chaos.scenarios.cli_stream import (
    checkpoint,
    events,
    start_cli_stream,
    wait_committed,
    wait_supervisor_exit,
)
from ops.status import stream_position
from streaming.checkpoint import earliest_offsets

EXIT_CHECKPOINT_DAMAGED = 5
WAIT_S = 240.0
DAMAGES = ("truncate the latest offsets file", "garbage in the latest commit file",
           "truncate the query's metadata file")


@dataclass(frozen=True)
class CheckpointDamage:
    name: str = "checkpoint-damage"
    fault: str = ("stream stopped; a checkpoint file truncated or overwritten; "
                  "stream started again")
    fast: bool = False
    batch_size: int = 1500
    pages: int = 2

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        with pipeline(ctx, self.name) as pipe:
            tag = pipe.contract.topic
            location = checkpoint(pipe)
            start_cli_stream(pipe)
            pipe.produce(self.pages, self.batch_size, tag=tag, pause_s=3.0)
            wait_committed(pipe, pipe.end(), WAIT_S)
            pipe.stop_stream()
            pipe.produce(1, self.batch_size, tag=tag, first_page=self.pages + 1)  # unread

            how = DAMAGES[ctx.rng.randrange(len(DAMAGES))]
            damaged = _damage(location, how)
            ctx.progress(f"  {how}: {damaged}")
            notes.append(f"fault: {how} ({damaged.relative_to(location)})")

            before = len(pipe.log_lines())  # the graceful stop above may log py4j's errors
            start_cli_stream(pipe, wait_started=False)
            last = wait_supervisor_exit(pipe, WAIT_S)
            said = events(pipe, "checkpoint_damaged")
            end = pipe.end()
            _, status_lines = stream_position(
                tag, location, end, earliest_offsets(ctx.settings, tag, pipe.contract.partitions))
            notes.append(f"job said: {said[-1]['error'] if said else 'nothing'}")
            notes.append(f"supervisor: {last}")
            notes.append(f"make status: {status_lines[0] if status_lines else 'nothing'}")
            traceback = any(line.startswith("Traceback") for line in pipe.log_lines()[before:])

            # The runbook: move the checkpoint aside, start the stream again.
            aside = location.with_name(f"{location.name}.damaged-{int(time.time())}")
            location.rename(aside)
            healed = time.time()
            start_cli_stream(pipe)
            recovery = pipe.wait_writing(healed, WAIT_S)
            rec = pipe.reconcile()
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=recovery,
                checks={
                    "the supervisor stopped on exit 5 (checkpoint damaged)":
                        f"exit {EXIT_CHECKPOINT_DAMAGED}" in last,
                    "one checkpoint_damaged line naming the file":
                        len(said) == 1 and said[0].get("file") == str(damaged),
                    "no Python or Spark stack trace in the job's log": not traceback,
                    "make status names the file":
                        bool(status_lines) and str(damaged) in status_lines[0],
                },
                notes=notes, started=started)


def _latest(directory: Path) -> Path:
    numbered = [p for p in directory.iterdir() if p.name.isdigit()]
    if not numbered:
        raise ChaosError(f"no batch file in {directory} to damage")
    return max(numbered, key=lambda p: int(p.name))


def _damage(location: Path, how: str) -> Path:
    """Damage one file as ``how`` says (its checksum file left as Spark wrote it)."""
    if how == DAMAGES[0]:
        target = _latest(location / "offsets")
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    elif how == DAMAGES[1]:
        target = _latest(location / "commits")
        target.write_bytes(b"v1\n\x00\x17garbage{")
    else:
        target = location / "metadata"
        target.write_bytes(target.read_bytes()[:10])
    return target
