"""ops.evolve's proposal step, on a scratch copy of the contract: the gate's checks pass v2,
refuse a breaking change, and nothing under schemas/ changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT
from contract.catalog import load_contract
from ops import evolve
from ops.demo import DemoError
from schematool.sandbox import write_contract


def _copy(tmp_path: Path):
    return write_contract(tmp_path, load_contract(), "evolve_unit", partitions=1)


def test_the_prepared_v2_passes_the_gate_on_the_copy_only(tmp_path: Path) -> None:
    committed = (PROJECT_ROOT / "schemas" / "users_created-value.avsc").read_text()
    v2 = evolve.propose_v2(_copy(tmp_path))
    assert evolve.NEW_FIELD in v2.field_names
    assert v2.avsc_path.parent == tmp_path and v2.subject == "evolve_unit-value"
    assert (PROJECT_ROOT / "schemas" / "users_created-value.avsc").read_text() == committed


def test_a_breaking_proposal_is_refused_with_the_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = json.loads(evolve.V2_PROPOSAL.read_text())
    schema["fields"].append({"name": "shoe_size", "type": "int"})  # no default: breaks BACKWARD
    broken = tmp_path / "broken.avsc"
    broken.write_text(json.dumps(schema))
    monkeypatch.setattr(evolve, "V2_PROPOSAL", broken)
    (tmp_path / "copy").mkdir()
    with pytest.raises(DemoError, match="shoe_size"):
        evolve.propose_v2(_copy(tmp_path / "copy"))
