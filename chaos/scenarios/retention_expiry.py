"""retention-expiry: the stream is stopped while Kafka deletes records it has not read.

Retention is made deterministic with the admin API's ``delete_records`` (what retention
does to a segment, at an offset this scenario picks): everything of the topic up to its
current end is deleted while the stream is down, including a page the stream never read.

The job must fail loudly: exit 4 (the supervisor stops instead of restarting it forever),
one ``data_lost`` line naming the topic, partition and offsets, and ``make status`` saying
the same. Then docs/troubleshooting.md's runbook ("Records were lost to retention") is
followed as written: re-produce the lost page from its source (same run, same seed, same
users), run the job once with ``--accept-data-loss``, start the supervised stream again.
Nothing is lost in the end: every user of every page is a row.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

from confluent_kafka import KafkaException, TopicPartition

from chaos.load import Pipeline, pipeline
from chaos.scenario import ChaosContext, ChaosError, Outcome
from chaos.scenarios.cli_stream import (
    checkpoint,
    events,
    start_cli_stream,
    wait_committed,
    wait_supervisor_exit,
)
from config.clients import cassandra_session, kafka_admin
from config.settings import PROJECT_ROOT
from ops.status import stream_position
from stack.spark import spark_env
from streaming.checkpoint import LostRange, earliest_offsets

EXIT_DATA_LOST = 4
WAIT_S = 240.0


@dataclass(frozen=True)
class RetentionExpiry:
    name: str = "retention-expiry"
    fault: str = ("stream stopped; Kafka deletes (delete_records) a page it never read; "
                  "stream started again")
    fast: bool = False
    batch_size: int = 1500

    def run(self, ctx: ChaosContext) -> Outcome:
        started = time.monotonic()
        notes: list[str] = []
        with pipeline(ctx, self.name) as pipe:
            tag = pipe.contract.topic
            start_cli_stream(pipe)
            read = pipe.produce(1, self.batch_size, tag=tag)
            read_end = pipe.end()
            wait_committed(pipe, read_end, WAIT_S)
            pipe.stop_stream()

            unread = pipe.produce(1, self.batch_size, tag=tag, first_page=2)
            deleted_to = pipe.end()
            _delete_records(pipe, deleted_to)
            expected = [LostRange(tag, p, read_end[p], deleted_to[p] - 1)
                        for p in sorted(deleted_to) if deleted_to[p] > read_end[p]]
            ctx.progress(f"  deleted offsets below {deleted_to} while the stream was down: "
                         f"{unread} records it never read")

            start_cli_stream(pipe, wait_started=False)
            last = wait_supervisor_exit(pipe, WAIT_S)
            lost = events(pipe, "data_lost")
            ranges = [LostRange(r["topic"], r["partition"], r["first"], r["last"])
                      for r in (lost[-1]["ranges"] if lost else [])]
            earliest = earliest_offsets(ctx.settings, tag, pipe.contract.partitions)
            _, status_lines = stream_position(tag, checkpoint(pipe), deleted_to, earliest)
            notes.append(f"job said: {lost[-1]['error'] if lost else 'nothing'}")
            notes.append(f"supervisor: {last}")
            notes.append(f"make status: {status_lines[0] if status_lines else 'nothing'}")

            # The runbook, as docs/troubleshooting.md writes it.
            healed = time.time()
            pipe.start = dict(deleted_to)  # what Kafka still holds is what can reconcile
            pipe.produce(1, self.batch_size, tag=tag, first_page=2)  # 1. re-produce
            accept = _accept_data_loss(pipe)  # 2. go on past the gap, once
            start_cli_stream(pipe)  # 3. the supervised stream, as usual
            pipe.produce(1, self.batch_size, tag=tag, first_page=3)
            recovery = pipe.wait_writing(healed, WAIT_S)
            rec = pipe.reconcile()
            rows = _rows(pipe)
            users = read + unread + self.batch_size
            notes.append(f"rows after the runbook: {rows} of {users} users produced")
            return Outcome.from_reconciliation(
                self, rec, recovery_seconds=recovery,
                checks={
                    "the supervisor stopped on exit 4 (data lost)":
                        f"exit {EXIT_DATA_LOST}" in last,
                    "one data_lost line naming exactly the deleted unread offsets":
                        len(lost) == 1 and ranges == expected,
                    "make status names the lost range":
                        bool(status_lines) and all(str(r) in status_lines[0] for r in expected),
                    "the runbook's --accept-data-loss run finished": accept == 0,
                    "after the runbook every user is a row": rows == users,
                },
                notes=notes, started=started)


def _delete_records(pipe: Pipeline, before: dict[int, int]) -> None:
    admin = kafka_admin(pipe.ctx.settings)
    futures = admin.delete_records(
        [TopicPartition(pipe.contract.topic, p, o) for p, o in before.items() if o > 0])
    for tp, future in futures.items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            raise ChaosError(f"delete_records {tp.topic} partition {tp.partition} "
                             f"below {tp.offset}: {exc}") from exc


def _accept_data_loss(pipe: Pipeline) -> int:
    """``python -m streaming run --available-now --accept-data-loss`` (the runbook's step 2),
    its output in the stream's log."""
    argv = [sys.executable, "-m", "streaming", "run", "--available-now", "--accept-data-loss",
            "--contract-dir", str(pipe.box.directory), "--subject", pipe.contract.subject]
    env = {**_base_env(pipe), "SPARK_CHECKPOINT_DIR": str(pipe.checkpoint)}
    with pipe.stream_log.open("ab") as out:
        return subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                              cwd=PROJECT_ROOT, timeout=WAIT_S, check=False).returncode


def _base_env(pipe: Pipeline) -> dict[str, str]:
    return {**os.environ, **spark_env(pipe.ctx.stack.paths), "PYTHONPATH": str(PROJECT_ROOT),
            "PYTHONUNBUFFERED": "1"}


def _rows(pipe: Pipeline) -> int:
    with cassandra_session(pipe.ctx.settings) as session:
        return int(session.execute(
            f"SELECT count(*) FROM {pipe.contract.qualified_table}").one()[0])
