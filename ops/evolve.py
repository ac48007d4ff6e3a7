"""`make demo-evolve`: a schema evolution while a streaming job runs, on a scratch copy.

Everything happens on a throw-away copy of a contract of ``schemas/`` (``--subject``,
``users_created-value`` by default; ``schematool.sandbox``: its own subject, topics and
keyspace, files in a temporary directory), so the working tree, the real subject, its
topics and its table are as they were afterwards:

1. the copy, as committed (v1), is applied as ``make schemas`` does, and a streaming job
   of its own starts (supervised, as ``make stream-up``);
2. users are produced with v1 (the producer the DAG's tasks run) and followed into
   Cassandra;
3. each prepared version (``docs/examples/<subject>.v2.avsc``, ``.v3.avsc``...: for
   users_created one optional field; for users_profile fields inside nested records, an
   enum symbol, an optional array, a record of a new type) replaces the copy's schema in
   turn, and the gate's checks pass it: lint, compatibility with every earlier version at
   the contract's level, Cassandra safety;
4. ``make schemas``' code alters the table and its types, then registers it, while the
   job runs;
5. users are produced with it and followed;
6. the rows of every version are shown side by side, from the same table, written by the
   same (never restarted) job; then the job stops and the copy is removed.
"""

from __future__ import annotations

import re
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
from contract.catalog import DEFAULT_SUBJECT, Contract, load_contract_file
from ops.demo import DemoError, follow
from ops.reconcile import Offsets, Reconciliation, end_offsets
from producers.run import RunConfig, RunSummary, fetch_and_produce, pages_needed
from schematool.gate.compat import check_compatibility
from schematool.gate.findings import format_text
from schematool.gate.lint import lint_contract
from schematool.gate.safety import check_field_safety
from schematool.migrate.apply import run_apply
from schematool.sandbox import sandbox

PROPOSALS_DIR = PROJECT_ROOT / "docs" / "examples"
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
    rows: list[str]  # the rows of every version side by side

    @property
    def reconciles(self) -> bool:
        return not self.restarted and all(
            s.fetched == s.produced + s.rejected and s.produced == self.followed[v].produced
            and self.followed[v].reconciles
            for v, s in self.produced.items()
        )


def proposals(subject: str, directory: Path = PROPOSALS_DIR) -> list[tuple[int, Path]]:
    """The prepared versions of ``subject`` (``<subject>.v<N>.avsc``, N >= 2), in order."""
    found = []
    for path in directory.glob(f"{subject}.v*.avsc"):
        match = re.fullmatch(rf"{re.escape(subject)}\.v(\d+)\.avsc", path.name)
        if match is not None and int(match.group(1)) >= 2:
            found.append((int(match.group(1)), path))
    if not found:
        raise DemoError(f"no prepared version of {subject} in {directory} "
                        f"(expected {subject}.v2.avsc, ...)")
    return sorted(found)


def propose(earlier: list[Contract], proposal: Path) -> Contract:
    """Step 3: the copy's ``.avsc`` becomes ``proposal``, which the gate's checks pass
    against every earlier version."""
    current = earlier[-1]
    shutil.copyfile(proposal, current.avsc_path)
    new = load_contract_file(current.avsc_path)
    source = new.source
    parsed = parse_schema(new.schema_str, source)
    history = [(f"v{n}", parse_schema(c.schema_str, f"v{n}"))
               for n, c in enumerate(earlier, start=1)]
    findings = [
        *lint_contract(new, source),
        *check_compatibility(parsed, history, new.compatibility, source),
        *check_field_safety(parsed, history, source),
    ]
    if findings:
        raise DemoError(f"the proposal {proposal.name} does not pass the gate:\n"
                        + "\n".join(format_text(f) for f in findings))
    return new


def added_fields(old: Contract, new: Contract) -> list[str]:
    """The top-level fields ``new`` has and ``old`` lacks, in ``new``'s order."""
    return [name for name in new.field_names if name not in old.field_names]


def produce(settings: Settings, contract: Contract, count: int, source: str) -> RunSummary:
    """``count`` users through the producer the DAG's tasks run (one page up to 500)."""
    batch = min(count, 500)
    run_id = f"demo-evolve-{uuid.uuid4().hex[:8]}"
    return fetch_and_produce(settings, contract, RunConfig(
        seed=run_id, pages=pages_needed(count, batch), batch_size=batch, run_id=run_id,
        limit=count, source=source,
    ))


def side_by_side(settings: Settings, contract: Contract, shown: list[str],
                 per_version: int = 3) -> list[str]:
    """A few rows of each writer schema version: the key and the ``shown`` fields."""
    columns = [contract.partition_key[0], *shown, "writer_schema_version"]
    found: dict[int, list[tuple]] = {}
    with cassandra_session(settings) as session:
        rows = session.execute(
            f"SELECT {', '.join(columns)} FROM {contract.qualified_table} LIMIT 5000"
        )
        for row in rows:
            bucket = found.setdefault(row.writer_schema_version or 0, [])
            if len(bucket) < per_version:
                bucket.append(tuple(row))
    widths = [36, *([max(12, 60 // max(len(shown), 1))] * len(shown)), 7]
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
    keep: bool = False, subject: str = DEFAULT_SUBJECT,
) -> EvolveResult:
    prepared = proposals(subject)  # before anything starts: a subject without any fails here
    progress("starting the stack (make up)")
    services.up()
    with sandbox(settings, prefix="evolve", keep=keep, base_subject=subject) as scratch:
        v1 = scratch.contract
        progress(f"1. scratch copy of {subject} in {scratch.directory}: subject {v1.subject}, "
                 f"topic {v1.topic}, table {v1.qualified_table} (schemas/ and the "
                 f"{subject} subject, topic and table are not touched)")
        result = _run(settings, services, scratch.directory, v1, prepared, count, source,
                      progress)
        if keep:
            progress(f"kept (--keep): {v1.subject}, topics {v1.topic}*, keyspace {v1.keyspace}")
        else:
            progress("removing the scratch copy: keyspace, subject, topics, files")
    return result


def _run(settings: Settings, services: EvolveServices, directory: Path, v1: Contract,
         prepared: list[tuple[int, Path]], count: int, source: str,
         progress: Progress) -> EvolveResult:
    registry = schema_registry_client(settings)
    with services.scratch_stream(v1, directory) as stream:
        pid, starts = stream.pid(), stream.starts()
        progress(f"   its streaming job runs (pid {pid}, log {stream.log})")
        start = end_offsets(settings, v1.topic, v1.partitions)
        progress(f"2. producing {count} users with v1")
        produced = {1: produce(settings, v1, count, source)}
        start, rec = _followed(settings, v1, start, stream, progress)
        followed, versions, shown = {1: rec}, [v1], []
        for number, proposal in prepared:
            new = propose(versions, proposal)
            added = added_fields(versions[-1], new)
            shown += added
            progress(f"3. pull request: {proposal.relative_to(PROJECT_ROOT)} replaces the "
                     f"copy's schema (top-level fields added: {added or 'none'}); lint, "
                     f"compatibility with v1..v{number - 1} ({new.compatibility}), Cassandra "
                     "safety: passed")
            progress(f"4. make schemas: alter the table and its types first, then register "
                     f"v{number} (the job keeps running)")
            if run_apply([new], settings, out=lambda line: progress(f"   {line}")) != 0:
                raise DemoError(f"applying v{number} of {new.subject} was refused "
                                "(see the lines above)")
            progress(f"5. producing {count} users with v{number}")
            produced[number] = produce(settings, new, count, source)
            start, followed[number] = _followed(settings, new, start, stream, progress)
            versions.append(new)
        restarted = stream.pid() != pid or stream.starts() != starts
        progress(f"6. the streaming job was {'RESTARTED' if restarted else 'never restarted'} "
                 f"(see {stream.log})")
        last = versions[-1]
        return EvolveResult(last.subject, produced, followed,
                            registry.get_versions(last.subject), restarted,
                            side_by_side(settings, last, shown))


def format_result(result: EvolveResult) -> Iterator[str]:
    yield f"\nsubject {result.subject}: versions {result.versions}"
    for version, summary in sorted(result.produced.items()):
        rec = result.followed[version]
        yield (f"  v{version}: fetched {summary.fetched}, produced {summary.produced}, rejected "
               f"{summary.rejected}; stored {rec.stored}, dead-lettered {rec.dead_lettered}"
               f"{'' if rec.reconciles else ' - DOES NOT RECONCILE'}")
    yield "\nthe rows of every version side by side (same table, same streaming job):"
    yield from result.rows
    yield ("\nthe scratch copy is removed: schemas/, cql/ and the real subject, topic and "
           "table are as they were (docs/schema-evolution.md does the same change for real, "
           "as a pull request)")
