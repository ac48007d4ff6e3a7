"""``python -m schematool check``: every rule a schema change must pass before it is merged.

For each ``schemas/*.avsc``: it parses, lints clean, is compatible with its earlier versions
(git history, per the sidecar's compatibility level), and is Cassandra-safe; then the committed
``cql/`` matches what the schemas generate. All problems are collected, not just the first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from avro.schema import RecordSchema

from contract.avro_types import SchemaError, load_avro, parse_schema
from contract.catalog import Contract, ContractError, load_contract_file
from contract.cql import cql_files
from schematool.gate.compat import check_compatibility, versions_to_check
from schematool.gate.findings import Finding, locate_line
from schematool.gate.generate import evolution_doc_drift, find_drift
from schematool.gate.history import FileVersion, earlier_versions, file_history
from schematool.gate.lint import lint_contract
from schematool.gate.safety import KeyLayout, check_field_safety, check_key_safety
from schematool.gate.sidecar import sidecar_findings

BLOCKING_LINT = frozenset({"parse", "logical-type", "cql-union", "cql-mapping"})


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line per contract, for the summary

    @property
    def ok(self) -> bool:
        return not self.findings


def same_schema(a: str, b: str) -> bool:
    """Two texts of one schema: equal once parsed (formatting and key order do not count)."""
    try:
        return bool(json.loads(a) == json.loads(b))
    except json.JSONDecodeError:
        return a == b


def run_check(repo: Path, base: str | None = None, replication_factor: int = 1) -> CheckReport:
    """Check every contract of ``repo``; ``base`` limits history to what that ref has."""
    repo = Path(repo).resolve()
    report = CheckReport()
    contracts: list[Contract] = []
    for avsc in sorted((repo / "schemas").glob("*.avsc")):
        source = avsc.relative_to(repo).as_posix()
        try:
            contract = load_contract_file(avsc)
        except ContractError as exc:
            report.findings.append(_contract_error(exc, repo, source))
            continue
        contracts.append(contract)
        report.findings.extend(_check_contract(repo, contract, source, base, report.notes))
    if any(f.rule in BLOCKING_LINT for f in report.findings):
        report.notes.append("cql/ not compared: fix the schemas that have no CQL table first")
    else:
        report.findings.extend(_drift_findings(repo, contracts, replication_factor))
    return report


def _contract_error(exc: ContractError, repo: Path, source: str) -> Finding:
    """The catalog's message, with paths made relative and a leading ``file:line:`` lifted out."""
    message = str(exc).replace(f"{repo}/", "")
    match = re.match(rf"^{re.escape(source)}(?::(\d+))?: (.*)$", message, re.DOTALL)
    if match is None:
        return Finding(source, "", "parse", message)
    line = int(match.group(1)) if match.group(1) else None
    return Finding(source, "", "parse", match.group(2), line)


def _check_contract(
    repo: Path, contract: Contract, source: str, base: str | None, notes: list[str]
) -> list[Finding]:
    text = contract.schema_str
    findings = [f.with_line(locate_line(text, f.path)) for f in lint_contract(contract, source)]
    findings.extend(sidecar_findings(repo, contract))
    if any(f.rule in BLOCKING_LINT for f in findings):
        notes.append(f"{contract.subject}: not compared with history (the schema itself is broken)")
        return findings
    new = parse_schema(text, source)
    history = earlier_versions(file_history(repo, source, base), text, same_schema)
    earlier = _parse_versions(history, notes, contract.subject)
    late = [
        *check_compatibility(new, earlier, contract.compatibility, source),
        *check_field_safety(new, earlier, source),
    ]
    findings.extend(f.with_line(locate_line(text, f.path)) for f in late)
    findings.extend(_key_findings(repo, contract, base))
    checked = len(versions_to_check(contract.compatibility, earlier))
    notes.append(
        f"{contract.subject}: {len(contract.fields)} fields, {contract.compatibility} against "
        f"{checked} of {len(earlier)} earlier version(s), Cassandra-safe against all"
    )
    return findings


def _parse_versions(
    history: list[FileVersion], notes: list[str], subject: str
) -> list[tuple[str, RecordSchema]]:
    parsed: list[tuple[str, RecordSchema]] = []
    for number, version in enumerate(history, start=1):
        label = f"version {number} ({version.label})"
        try:
            parsed.append((label, load_avro(version.text, f"{version.path}@{version.label}")))
        except SchemaError as exc:
            # A broken past commit was never registrable: nothing to stay compatible with.
            notes.append(f"{subject}: skipped {label}, it does not parse: {exc.reason}")
    return parsed


def _key_findings(repo: Path, contract: Contract, base: str | None) -> list[Finding]:
    sidecar = contract.avsc_path.with_suffix(".toml")
    source = sidecar.relative_to(repo).as_posix()
    current_text = sidecar.read_text(encoding="utf-8")
    earlier: list[tuple[str, KeyLayout]] = []
    for version in earlier_versions(file_history(repo, source, base), current_text):
        layout = KeyLayout.from_toml(version.text)
        if layout is not None:
            earlier.append((version.label, layout))
    findings = check_key_safety(KeyLayout.from_contract(contract), earlier, source)
    line = _line_of(current_text, "partition_key")
    return [f.with_line(line) for f in findings]


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(needle):
            return number
    return None


def _drift_findings(
    repo: Path, contracts: list[Contract], replication_factor: int
) -> list[Finding]:
    try:
        expected = cql_files(contracts, replication_factor)
    except SchemaError as exc:
        return [Finding(exc.source, exc.path, "cql-mapping", exc.reason)]
    return [
        Finding(d.file, "", "cql-drift", f"{d.reason}; run make cql and commit cql/")
        for d in find_drift(expected, repo / "cql")
    ] + [
        Finding(d.file, "", "docs-drift", f"{d.reason}; run make cql and commit it")
        for d in evolution_doc_drift(repo)
    ]
