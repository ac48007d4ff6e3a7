"""`make demo-evolve`: a schema evolution while a streaming job runs, on a scratch copy.

Everything happens on a throw-away copy of the contract (``schematool.sandbox``: its own
subject, topics and keyspace, files in a temporary directory), so the working tree, the
``users_created-value`` subject, its topics and its table are as they were afterwards:

1. the copy, as committed (v1), is applied as ``make schemas`` does, and a streaming job
   of its own starts (supervised, as ``make stream-up``);
2. users are produced with v1 (the producer the DAG's tasks run) and followed into
   Cassandra;
3. the prepared v2 (``docs/examples/users_created-value.v2.avsc``: one optional field
   added) replaces the copy's schema, and the gate's checks pass it: lint, compatibility
   with v1 at the contract's level, Cassandra safety;
4. ``make schemas``' code adds the column, then registers v2, while the job runs;
5. users are produced with v2 and followed;
6. v1 and v2 rows are shown side by side, from the same table, written by the same
   (never restarted) job; then the job stops and the copy is removed.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from config.clients import cassandra_session, schema_registry_client
from config.settings import PROJECT_ROOT, Settings
from contract.avro_types import parse_schema
from contract.catalog import Contract, load_contract_file
from ops.demo import DemoError, follow
from ops.reconcile import Offsets, Reconciliation, end_offsets
from producers.run import RunConfig, RunSummary, fetch_and_produce, pages_needed
from schematool.gate.compat import check_compatibility
from schematool.gate.findings import format_text
from schematool.gate.lint import lint_contract
from schematool.gate.safety import check_field_safety
from schematool.migrate.apply import run_apply
from schematool.sandbox import sandbox

V2_PROPOSAL = PROJECT_ROOT / "docs" / "examples" / "users_created-value.v2.avsc"
NEW_FIELD = "nationality"
Progress = Callable[[str], None]


class ScratchStream(Protocol):
    """The copy's streaming job, as ``EvolveServices.scratch_stream`` runs it."""

    @property
    def log(self) -> Path: ...

    def pid(self) -> int | None:
        """The running job's pid (its supervisor's), None when it does not run."""

    def starts(self) -> int:
        """How many times the job has been started (restarts included)."""


class EvolveServices(Protocol):
    """What demo-evolve needs from whatever runs the services (``userstream.demo``'s)."""

    def up(self) -> None:
        """Start the services that are not running; return once every one is healthy."""

    def scratch_stream(
        self, contract: Contract, contract_dir: Path
    ) -> AbstractContextManager[ScratchStream]:
        """A streaming job on ``contract`` (healthy on entry), stopped with its state on exit."""
        ...


@dataclass(frozen=True)
class EvolveResult:
    subject: str
    produced: dict[int, RunSummary]  # by the schema version written with
    followed: dict[int, Reconciliation]
    versions: list[int]
    restarted: bool
    rows: list[str]  # v1 and v2 rows side by side

    @property
    def reconciles(self) -> bool:
        return not self.restarted and all(
            s.fetched == s.produced + s.rejected and s.produced == self.followed[v].produced
            and self.followed[v].reconciles
            for v, s in self.produced.items()
        )


def propose_v2(v1: Contract) -> Contract:
    """Step 3: the copy's ``.avsc`` becomes the prepared v2, which the gate's checks pass."""
    shutil.copyfile(V2_PROPOSAL, v1.avsc_path)
    v2 = load_contract_file(v1.avsc_path)
    source = v2.source
    old = parse_schema(v1.schema_str, "v1")
    new = parse_schema(v2.schema_str, source)
    findings = [
        *lint_contract(v2, source),
        *check_compatibility(new, [("v1", old)], v2.compatibility, source),
        *check_field_safety(new, [("v1", old)], source),
    ]
    if findings:
        raise DemoError("the v2 proposal does not pass the gate:\n"
                        + "\n".join(format_text(f) for f in findings))
    return v2


def produce(settings: Settings, contract: Contract, count: int, source: str) -> RunSummary:
    """``count`` users through the producer the DAG's tasks run (one page up to 500)."""
    batch = min(count, 500)
    run_id = f"demo-evolve-{uuid.uuid4().hex[:8]}"
    return fetch_and_produce(settings, contract, RunConfig(
        seed=run_id, pages=pages_needed(count, batch), batch_size=batch, run_id=run_id,
        limit=count, source=source,
    ))


def side_by_side(settings: Settings, contract: Contract, per_version: int = 3) -> list[str]:
    """A few rows of each writer schema version, with the new field."""
    columns = ["id", "first_name", "last_name", NEW_FIELD, "writer_schema_version"]
    found: dict[int, list[tuple]] = {}
    with cassandra_session(settings) as session:
        rows = session.execute(
            f"SELECT {', '.join(columns)} FROM {contract.qualified_table} LIMIT 5000"
        )
        for row in rows:
            bucket = found.setdefault(row.writer_schema_version or 0, [])
            if len(bucket) < per_version:
                bucket.append(tuple(row))
    widths = [36, 14, 14, 11, 7]
    header = "  ".join(f"{c[:w]:<{w}}" for c, w in zip(columns, widths, strict=True))
    lines = [header, "-" * len(header)]
    for version in sorted(found):
        for row in found[version]:
            lines.append("  ".join(f"{str(v)[:w]:<{w}}" for v, w in zip(row, widths, strict=True)))
    return lines


def _followed(settings: Settings, contract: Contract, start: Offsets, stream: ScratchStream,
              progress: Progress) -> tuple[Offsets, Reconciliation]:
    end = end_offsets(settings, contract.topic, contract.partitions)
    return end, follow(settings, contract, start, end, timeout=600.0, progress=progress,
                       stream_log=stream.log)


def evolve(
    settings: Settings, services: EvolveServices, *, count: int, source: str, progress: Progress,
    keep: bool = False,
) -> EvolveResult:
    progress("starting the stack (make up)")
    services.up()
    with sandbox(settings, prefix="evolve", keep=keep) as scratch:
        v1 = scratch.contract
        progress(f"1. scratch copy of the contract in {scratch.directory}: subject {v1.subject}, "
                 f"topic {v1.topic}, table {v1.qualified_table} (schemas/ and the "
                 "users_created subject, topic and table are not touched)")
        result = _run(settings, services, scratch.directory, v1, count, source, progress)
        if keep:
            progress(f"kept (--keep): {v1.subject}, topics {v1.topic}*, keyspace {v1.keyspace}")
        else:
            progress("removing the scratch copy: keyspace, subject, topics, files")
    return result


def _run(settings: Settings, services: EvolveServices, directory: Path, v1: Contract,
         count: int, source: str, progress: Progress) -> EvolveResult:
    registry = schema_registry_client(settings)
    with services.scratch_stream(v1, directory) as stream:
        pid, starts = stream.pid(), stream.starts()
        progress(f"   its streaming job runs (pid {pid}, log {stream.log})")
        start = end_offsets(settings, v1.topic, v1.partitions)
        progress(f"2. producing {count} users with v1")
        produced = {1: produce(settings, v1, count, source)}
        middle, rec1 = _followed(settings, v1, start, stream, progress)
        v2 = propose_v2(v1)
        progress(f"3. pull request: {V2_PROPOSAL.relative_to(PROJECT_ROOT)} replaces the "
                 f"copy's schema (adds optional field {NEW_FIELD!r}); lint, compatibility "
                 f"with v1 ({v1.compatibility}), Cassandra safety: passed")
        progress("4. make schemas: add the column first, then register v2 (the job keeps running)")
        if run_apply([v2], settings, out=lambda line: progress(f"   {line}")) != 0:
            raise DemoError(f"applying v2 of {v2.subject} was refused (see the lines above)")
        progress(f"5. producing {count} users with v2")
        produced[2] = produce(settings, v2, count, source)
        _, rec2 = _followed(settings, v2, middle, stream, progress)
        restarted = stream.pid() != pid or stream.starts() != starts
        progress(f"6. the streaming job was {'RESTARTED' if restarted else 'never restarted'} "
                 f"(see {stream.log})")
        return EvolveResult(v2.subject, produced, {1: rec1, 2: rec2},
                            registry.get_versions(v2.subject), restarted,
                            side_by_side(settings, v2))


def format_result(result: EvolveResult) -> Iterator[str]:
    yield f"\nsubject {result.subject}: versions {result.versions}"
    for version, summary in sorted(result.produced.items()):
        rec = result.followed[version]
        yield (f"  v{version}: fetched {summary.fetched}, produced {summary.produced}, rejected "
               f"{summary.rejected}; stored {rec.stored}, dead-lettered {rec.dead_lettered}"
               f"{'' if rec.reconciles else ' - DOES NOT RECONCILE'}")
    yield "\nv1 and v2 rows side by side (same table, same streaming job):"
    yield from result.rows
    yield ("\nthe scratch copy is removed: schemas/, cql/ and the users_created-value subject, "
           "topic and table are as they were (docs/schema-evolution.md does the same change "
           "for real, as a pull request)")
