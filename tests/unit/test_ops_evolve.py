"""ops.evolve's proposal steps, on scratch copies of the contracts: the gate's checks pass
each prepared version against every earlier one, refuse a breaking change, and nothing
under schemas/ changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT
from contract.catalog import load_contract
from ops import evolve
from ops.demo import DemoError
from schematool.sandbox import write_contract


def _copy(tmp_path: Path, subject: str = "users_created-value"):
    return write_contract(tmp_path, load_contract(subject), "evolve_unit", partitions=1)


def test_the_prepared_v2_passes_the_gate_on_the_copy_only(tmp_path: Path) -> None:
    committed = (PROJECT_ROOT / "schemas" / "users_created-value.avsc").read_text()
    v1 = _copy(tmp_path)
    [(number, proposal)] = evolve.proposals("users_created-value")
    v2 = evolve.propose([v1], proposal)
    assert number == 2 and evolve.added_fields(v1, v2) == ["nationality"]
    assert v2.avsc_path.parent == tmp_path and v2.subject == "evolve_unit-value"
    assert (PROJECT_ROOT / "schemas" / "users_created-value.avsc").read_text() == committed


def test_the_rich_contract_goes_through_v2_then_v3_each_against_every_earlier(
    tmp_path: Path,
) -> None:
    v1 = _copy(tmp_path, "users_profile-value")
    assert v1.rules_module == "producers.profile_mapping"  # the copy is produced like it
    prepared = evolve.proposals("users_profile-value")
    assert [n for n, _ in prepared] == [2, 3]
    versions = [v1]
    for _, proposal in prepared:
        versions.append(evolve.propose(versions, proposal))
    assert evolve.added_fields(v1, versions[1]) == ["emails"]
    assert evolve.added_fields(versions[1], versions[2]) == ["registered"]


def test_a_subject_without_prepared_versions_is_refused_before_anything_starts() -> None:
    with pytest.raises(DemoError, match="no prepared version of nothing-value"):
        evolve.proposals("nothing-value")


def test_a_breaking_proposal_is_refused_with_the_findings(tmp_path: Path) -> None:
    [(_, proposal)] = evolve.proposals("users_created-value")
    schema = json.loads(proposal.read_text())
    schema["fields"].append({"name": "shoe_size", "type": "int"})  # no default: breaks BACKWARD
    broken = tmp_path / "broken.avsc"
    broken.write_text(json.dumps(schema))
    (tmp_path / "copy").mkdir()
    with pytest.raises(DemoError, match="shoe_size"):
        evolve.propose([_copy(tmp_path / "copy")], broken)
