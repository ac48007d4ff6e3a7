"""House rules for a contract's sidecar (``<subject>.toml``), beyond what the catalog needs.

The catalog reads the keys it knows and ignores the others (as it always has), so a typo
such as ``[source] rule = ...`` would silently fall back to the default. The gate says so:

- ``sidecar-keys``: every key of the sidecar is one the catalog knows (``SIDECAR_KEYS``).
- ``source-rules``: the ``[source] rules`` module is importable here (found on the
  import path, not imported: the gate runs no mapping code) — the producer would fail on
  it at the first page.
- ``sensitivity-fields``: each field that ``[sensitivity]`` labels is a top-level field of
  the schema, under one label only — a label for a field that is not there (a typo, a
  renamed field) would leave the real one unclassified.
"""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

from contract.catalog import Contract, unknown_sidecar_keys
from schematool.gate.findings import Finding


def sidecar_findings(repo: Path, contract: Contract) -> list[Finding]:
    sidecar = contract.sidecar_path
    source = _relative(sidecar, repo)
    text = sidecar.read_text(encoding="utf-8")
    meta = tomllib.loads(text)  # the catalog parsed it already: it is valid TOML
    findings = [
        Finding(source, "", "sidecar-keys",
                f"unknown key {key!r}: the catalog ignores it (a typo?); known keys are in "
                "docs/your-own-contract.md", _line_of(text, key.rsplit(".", 1)[-1]))
        for key in unknown_sidecar_keys(meta)
    ]
    if not _findable(contract.rules_module):
        findings.append(Finding(
            source, "", "source-rules",
            f"source.rules module {contract.rules_module!r} is not on the import path "
            "(PYTHONPATH); the producer needs its FIELD_RULES", _line_of(text, "rules")))
    findings += [
        Finding(source, field, "sensitivity-fields", message, _line_of(text, label))
        for label, field, message in sensitivity_problems(contract)
    ]
    return findings


def sensitivity_problems(contract: Contract) -> list[tuple[str, str, str]]:
    """(label, field, message) for each ``[sensitivity]`` entry the schema contradicts."""
    fields = set(contract.field_names)
    problems: list[tuple[str, str, str]] = []
    first_label: dict[str, str] = {}
    for label, names in contract.sensitivity:
        for name in names:
            if name not in fields:
                problems.append((label, name, f"sensitivity.{label} names {name!r}, which "
                                 "is not a top-level field of the schema"))
            elif name in first_label:
                problems.append((label, name, f"labelled both {first_label[name]!r} and "
                                 f"{label!r}: a field has one sensitivity"))
            else:
                first_label[name] = label
    return problems


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is missing or not a package
        return False


def _relative(path: Path, repo: Path) -> str:
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(path)


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(key) and "=" in line:
            return number
    return None
