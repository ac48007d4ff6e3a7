"""The committed ``cql/`` files: (re)writing them, and telling when they drifted from the schemas.

Only files this generator wrote (their first line says so) are ever replaced or removed;
a hand-written ``.cql`` next to them is left alone. The same goes for the evolution table
of docs/schema-evolution.md (:mod:`schematool.gate.evolution_table`), where the checkers'
rules are generated: ``make cql`` rewrites it, the check tells when it differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contract.catalog import load_contracts
from contract.cql import cql_files
from schematool.gate.evolution_table import compute_rows, render, replace_block

GENERATED_MARK = "-- generated from schemas/"
EVOLUTION_DOC = "docs/schema-evolution.md"


@dataclass(frozen=True)
class Drift:
    file: str  # relative to the repository, e.g. cql/spark_streams.created_users.cql
    reason: str

    def __str__(self) -> str:
        return f"{self.file} {self.reason}; run make cql"


def expected_files(repo: Path, replication_factor: int = 1) -> dict[str, str]:
    """``file name -> text`` for every contract under ``repo/schemas``.

    Raises ContractError or SchemaError (both name the file) when a schema is malformed.
    """
    return cql_files(load_contracts(Path(repo) / "schemas"), replication_factor)


def _generated(path: Path) -> bool:
    with path.open(encoding="utf-8") as handle:
        return handle.readline().startswith(GENERATED_MARK)


def find_drift(expected: dict[str, str], cql_dir: Path, prefix: str = "cql") -> list[Drift]:
    """Every difference between ``expected`` and the files in ``cql_dir``."""
    drift: list[Drift] = []
    for name, text in expected.items():
        path = cql_dir / name
        if not path.exists():
            drift.append(Drift(f"{prefix}/{name}", "is missing"))
        elif path.read_text(encoding="utf-8") != text:
            drift.append(Drift(f"{prefix}/{name}", "differs from what the schema generates"))
    if cql_dir.is_dir():
        for path in sorted(cql_dir.glob("*.cql")):
            if path.name not in expected and _generated(path):
                drift.append(Drift(f"{prefix}/{path.name}", "is generated from no schema any more"))
    return drift


def write_files(expected: dict[str, str], cql_dir: Path) -> list[str]:
    """Bring ``cql_dir`` to ``expected``; return the names written or removed."""
    cql_dir.mkdir(parents=True, exist_ok=True)
    changed: list[str] = []
    for name, text in expected.items():
        path = cql_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    for path in sorted(cql_dir.glob("*.cql")):
        if path.name not in expected and _generated(path):
            path.unlink()
            changed.append(path.name)
    return changed


def _evolution_doc(repo: Path) -> tuple[Path, str, str] | None:
    """(path, committed text, text with the table regenerated); None where the repository
    has no such document (a contracts-only repository)."""
    path = Path(repo) / EVOLUTION_DOC
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    try:
        return path, text, replace_block(text, render(compute_rows()))
    except ValueError:
        return None  # no generated block: a document of the user's own


def evolution_doc_drift(repo: Path) -> list[Drift]:
    doc = _evolution_doc(repo)
    if doc is None or doc[1] == doc[2]:
        return []
    return [Drift(EVOLUTION_DOC, "has an evolution table other than the gate's rules give")]


def write_evolution_doc(repo: Path) -> list[str]:
    """Rewrite the evolution table if it differs; the file written, if any."""
    doc = _evolution_doc(repo)
    if doc is None or doc[1] == doc[2]:
        return []
    doc[0].write_text(doc[2], encoding="utf-8")
    return [EVOLUTION_DOC]
