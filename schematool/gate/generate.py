"""The committed ``cql/`` files: (re)writing them, and telling when they drifted from the schemas.

Only files this generator wrote (their first line says so) are ever replaced or removed;
a hand-written ``.cql`` next to them is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contract.catalog import load_contracts
from contract.cql import cql_files

GENERATED_MARK = "-- generated from schemas/"


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
