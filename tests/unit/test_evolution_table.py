"""The generated evolution table of docs/schema-evolution.md: its verdicts come from the
gate's own checkers, and a stale copy is drift (``make schemas-check``). No service."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT
from schematool.gate.evolution_table import (
    BEGIN,
    CHANGE_KINDS,
    END,
    Row,
    compute_rows,
    render,
    replace_block,
)
from schematool.gate.generate import EVOLUTION_DOC, evolution_doc_drift, write_evolution_doc


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    return {row.change: row for row in compute_rows()}


def test_one_row_per_change_kind(rows: dict[str, Row]) -> None:
    assert list(rows) == [kind.text for kind in CHANGE_KINDS]


@pytest.mark.parametrize(("change", "backward", "forward", "cassandra", "cql"), [
    ("add an optional field (`[\"null\", T]`, default null)", True, True, True,
     "ALTER TABLE ks.example ADD IF NOT EXISTS added text"),
    ("add a required field without a default", False, True, True, "ALTER TABLE"),
    ("add an optional field inside a nested record", True, True, True,
     "ALTER TYPE ks.location ADD IF NOT EXISTS zone text"),
    ("add an optional array", True, True, True, "added list<text>"),
    ("add an enum symbol (the enum has a default symbol)", True, True, True, "nothing"),
    ("add an enum symbol (no default symbol)", True, False, True, "nothing"),
    ("promote int -> long", True, False, False, "refuses:"),
    ("rename a required field, with an alias", True, False, False, "full_name"),
])
def test_the_verdicts_are_the_gate_s(rows: dict[str, Row], change: str, backward: bool,
                                     forward: bool, cassandra: bool, cql: str) -> None:
    row = rows[change]
    assert row.avro[:2] == (backward, forward)
    assert row.avro[2] == (backward and forward)  # FULL: both directions
    assert row.cassandra is cassandra
    assert cql in row.schemas_runs


def test_a_refused_change_never_reaches_the_stream(rows: dict[str, Row]) -> None:
    for row in rows.values():
        refused = not (row.avro[0] and row.cassandra)
        assert row.stream.startswith("never reaches it") is refused, row


def test_the_committed_document_is_what_the_rules_give() -> None:
    assert evolution_doc_drift(PROJECT_ROOT) == [], "run make cql"


def test_a_stale_table_is_drift_and_make_cql_mends_it(tmp_path: Path) -> None:
    doc = tmp_path / EVOLUTION_DOC
    doc.parent.mkdir()
    shutil.copy(PROJECT_ROOT / EVOLUTION_DOC, doc)
    doc.write_text(doc.read_text().replace("| compatible |", "| refused |", 1))
    assert [str(d) for d in evolution_doc_drift(tmp_path)] == [
        f"{EVOLUTION_DOC} has an evolution table other than the gate's rules give; run make cql"]
    assert write_evolution_doc(tmp_path) == [EVOLUTION_DOC]
    assert evolution_doc_drift(tmp_path) == []


def test_a_document_without_the_markers_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / EVOLUTION_DOC).write_text("# my own notes\n")
    assert evolution_doc_drift(tmp_path) == [] and write_evolution_doc(tmp_path) == []
    with pytest.raises(ValueError, match="no generated block"):
        replace_block("text", render([]))


def test_the_block_is_replaced_between_its_markers_only() -> None:
    document = f"before\n{BEGIN}\nold\n{END}\nafter\n"
    expected = f"before\n{BEGIN}\nnew\n{END}\nafter\n"
    assert replace_block(document, f"{BEGIN}\nnew\n{END}") == expected
