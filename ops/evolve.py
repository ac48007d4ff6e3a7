"""`make demo-evolve`: a schema evolution while the pipeline runs, as a pull request would do it.

1. the prepared v2 (``docs/examples/users_created-value.v2.avsc``: one optional
   field added) replaces the contract in the working tree, and ``cql/`` is
   regenerated from it (the diff a pull request would carry);
2. ``make schemas-check`` passes it (compatible with every earlier version in git);
3. ``make schemas`` adds the column, then registers v2, while the stream runs;
4. a real DAG run produces users with v2;
5. v1 and v2 rows are shown side by side, from the same table, written by the
   same (never restarted) streaming job.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

from config.clients import cassandra_session
from config.settings import PROJECT_ROOT, Settings
from contract.catalog import Contract, load_contract
from ops.demo import PipelineResult, Services, prepare, run_module, run_pipeline

V2_PROPOSAL = PROJECT_ROOT / "docs" / "examples" / "users_created-value.v2.avsc"
NEW_FIELD = "nationality"
Progress = Callable[[str], None]


def apply_proposal(progress: Progress) -> Contract:
    """Steps 1 and 2: the working tree now holds v2 and its generated CQL, checked."""
    contract = load_contract()
    if NEW_FIELD in contract.field_names:
        progress(f"{contract.avsc_path.name} already has {NEW_FIELD!r}: already evolved")
    else:
        progress(f"1. pull request: {V2_PROPOSAL.relative_to(PROJECT_ROOT)} -> "
                 f"schemas/{contract.avsc_path.name} (adds optional field {NEW_FIELD!r})")
        shutil.copyfile(V2_PROPOSAL, contract.avsc_path)
        run_module(progress, "schematool", "generate")
        diff = subprocess.run(["git", "diff", "--stat", "--", "schemas", "cql"],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
        for line in diff.stdout.strip().splitlines():
            progress(f"  {line}")
    progress("2. make schemas-check (lint, compatibility with git history, Cassandra safety)")
    run_module(progress, "schematool", "check")
    return load_contract()


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


def evolve(
    settings: Settings, services: Services, *, count: int, source: str, progress: Progress
) -> PipelineResult:
    prepare(services, progress)  # the stack and the stream, running on v1 if this is a first run
    stream_pid = services.stream_pid()
    starts = services.stream_starts()
    contract = apply_proposal(progress)
    progress("3. make schemas: add the column first, then register v2 (the stream keeps running)")
    run_module(progress, "schematool", "apply")
    progress(f"4. a DAG run producing {count} users with v2")
    result = run_pipeline(settings, services, contract, count=count, batch_size=max(count // 2, 1),
                          source=source, progress=progress)
    same = (stream_pid is not None and services.stream_pid() == stream_pid
            and services.stream_starts() == starts)
    progress(f"5. the streaming job was {'never restarted' if same else 'RESTARTED'} "
             f"(see {services.log('stream')})")
    return result
