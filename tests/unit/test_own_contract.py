"""Bringing one's own contract: the sidecar's [source] section, the rules module it names,
one fetch per page for several contracts, and the summary per subject."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from config.settings import load_settings
from contract.catalog import (
    DEFAULT_RULES_MODULE,
    ContractError,
    load_contract,
    load_contract_file,
    load_contracts,
    select_contracts,
    unknown_sidecar_keys,
)
from producers.errors import ContractDriftError, RulesModuleError, TooManyRejects
from producers.mapping import map_users
from producers.rules import rules_for
from producers.run import (
    ContractsSummary,
    RunConfig,
    RunSummary,
    fetch_and_produce_all,
    merge_runs,
)
from tests.memory_sink import MemorySink
from tests.own_contract import write_contract, write_rules_module

_names = itertools.count()


@pytest.fixture
def own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A contracts dir holding the repository's contract and one of our own."""
    module = f"own_rules_{next(_names)}"
    write_rules_module(tmp_path / "code", module)
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    contracts = tmp_path / "schemas"
    write_contract(contracts, "own_users", "own_ks", module)
    base = load_contract()
    for path in (base.avsc_path, base.sidecar_path):
        (contracts / path.name).write_bytes(path.read_bytes())
    return contracts


# -- the sidecar's [source] section --------------------------------------------------------


def test_source_section_defaults_to_randomuser_and_the_catalogue() -> None:
    contract = load_contract()
    assert (contract.source_api, contract.rules_module) == ("randomuser", DEFAULT_RULES_MODULE)


def test_source_section_is_read(own: Path) -> None:
    contract = load_contract("own_users-value", own)
    assert contract.source_api == "randomuser"
    assert contract.rules_module.startswith("own_rules_")


@pytest.mark.parametrize(("section", "message"), [
    ('[source]\napi = "github"\n', "has no fetcher"),
    ('[source]\nrules = "not a module"\n', "module path"),
    ('[source]\nrules = 3\n', "module path"),
    ('source = "randomuser"\n', "must be a table"),
])
def test_bad_source_section_names_the_sidecar(tmp_path: Path, section: str,
                                              message: str) -> None:
    path = write_contract(tmp_path, "bad", "ks", "m")
    text = path.with_suffix(".toml").read_text().split("[source]")[0]
    if not section.startswith("["):
        text = section + text
        section = ""
    path.with_suffix(".toml").write_text(text + section)
    with pytest.raises(ContractError, match=message) as caught:
        load_contract_file(path)
    assert "bad-value.toml" in str(caught.value)


def test_unknown_sidecar_keys_are_listed_by_section(tmp_path: Path) -> None:
    import tomllib

    path = write_contract(tmp_path, "typo", "ks", "m", extra='modul = "x"\n')
    meta = tomllib.loads(path.with_suffix(".toml").read_text())
    meta["kafka"]["partition"] = 1
    assert unknown_sidecar_keys(meta) == ["kafka.partition", "source.modul"]
    load_contract_file(path)  # the catalog still reads it, as before: the gate flags it


def test_select_contracts_by_subject_and_source(own: Path) -> None:
    contracts = load_contracts(own)
    assert [c.subject for c in select_contracts(contracts, None, api="randomuser")] == [
        "own_users-value", "users_created-value"]
    assert [c.subject for c in select_contracts(contracts, ["own_users-value", ""])] == [
        "own_users-value"]
    with pytest.raises(ContractError, match="no contract for subject 'nope'"):
        select_contracts(contracts, ["nope"])


def test_the_setting_names_the_contracts_dir(own: Path) -> None:
    settings = load_settings({"CONTRACTS_DIR": str(own)})
    assert len(load_contracts(Path(settings.contracts_dir))) == 2
    assert Path(load_settings({}).contracts_dir) == load_contract().avsc_path.parent


# -- the rules module ------------------------------------------------------------------------


def test_rules_come_from_the_module_the_sidecar_names(own: Path) -> None:
    contract = load_contract("own_users-value", own)
    assert "initials" in rules_for(contract)
    user = {"login": {"uuid": "9f2c1b4e-8a7d-4c3b-9e1f-0a2b3c4d5e6f"},
            "name": {"first": "ada", "last": "lovelace"}, "email": "ada@example.com"}
    page = map_users([user, {"login": {"uuid": "not-a-uuid"}}], contract)
    assert page.records == ({"id": "9f2c1b4e-8a7d-4c3b-9e1f-0a2b3c4d5e6f", "first_name": "ada",
                             "email": "ada@example.com", "initials": "AL"},)
    assert page.rejected[0][1].field_path == "login.uuid"


def test_a_missing_rules_module_is_a_typed_error_naming_the_sidecar(tmp_path: Path) -> None:
    contract = load_contract_file(write_contract(tmp_path, "lost", "ks", "no_such_rules_mod"))
    with pytest.raises(RulesModuleError, match=r"lost-value\.toml.*no_such_rules_mod.*PYTHONPATH"):
        map_users([{}], contract)


def test_a_module_without_field_rules_is_a_typed_error(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"empty_rules_{next(_names)}"
    (tmp_path / f"{module}.py").write_text("RULES = {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    contract = load_contract_file(write_contract(tmp_path / "s", "empty", "ks", module))
    with pytest.raises(RulesModuleError, match="has no FIELD_RULES"):
        rules_for(contract)


def test_a_field_the_rules_module_lacks_is_drift(tmp_path: Path) -> None:
    # The repository's catalogue has no rule for `initials`.
    contract = load_contract_file(write_contract(tmp_path, "drift", "ks", DEFAULT_RULES_MODULE))
    with pytest.raises(ContractDriftError, match=r"producers\.mapping\.FIELD_RULES.*initials"):
        map_users([{}], contract)


# -- several contracts from one fetch ------------------------------------------------------


@dataclass
class Page:
    users: list[dict[str, Any]]


class FakeClient:
    def __init__(self, users: list[dict[str, Any]]) -> None:
        self.users = users
        self.calls: list[int] = []

    def fetch_page(self, *, results: int, page: int, seed: str, nat: Any) -> Page:
        self.calls.append(page)
        return Page(self.users[(page - 1) * results: page * results])


def _user(i: int, **override: Any) -> dict[str, Any]:
    user: dict[str, Any] = {
        "login": {"uuid": f"00000000-0000-4000-8000-{i:012d}", "username": f"u{i}"},
        "name": {"first": f"first{i}", "last": f"last{i}"}, "gender": "female",
        "email": f"u{i}@example.com", "phone": "1", "picture": {"medium": "p"},
        "dob": {"date": "1990-01-01T00:00:00Z"}, "registered": {"date": "2020-01-01T00:00:00Z"},
        "location": {"street": {"number": 1, "name": "s"}, "city": "c", "state": "st",
                     "country": "co", "postcode": 1},
    }
    user.update(override)
    return user


def test_one_fetch_per_page_feeds_every_contract_with_its_own_rejects(own: Path) -> None:
    contracts = load_contracts(own)
    # User 5 has no username: users_created requires one, our own contract does not.
    users = [_user(i) for i in range(5)] + [_user(5, login={"uuid": _user(5)["login"]["uuid"]})]
    client = FakeClient(users)
    sinks = {c.subject: MemorySink() for c in contracts}
    run = RunConfig(seed="s", pages=2, batch_size=3, run_id="r")
    summary = fetch_and_produce_all(load_settings({}), contracts, run,
                                    client=client, sinks=sinks)  # type: ignore[arg-type]
    assert client.calls == [1, 2]  # one API call per page, not one per contract
    own_sink, base_sink = sinks["own_users-value"], sinks["users_created-value"]
    assert len(own_sink.records) == 6 and not own_sink.rejects
    assert own_sink.records[0]["initials"] == "FL"
    assert len(base_sink.records) == 5 and len(base_sink.rejects) == 1
    assert base_sink.rejects[0].subject == "users_created-value"
    assert base_sink.rejects[0].field_path == "login.username"
    counts = {k: (v.fetched, v.produced, v.rejected, v.pages)
              for k, v in summary.by_subject.items()}
    assert counts == {"own_users-value": (6, 6, 0, 2), "users_created-value": (6, 5, 1, 2)}
    assert summary.unbalanced() == []


def test_a_page_one_contract_refuses_produces_nothing_to_any(own: Path) -> None:
    contracts = load_contracts(own)
    users = [_user(i, login={"uuid": _user(i)["login"]["uuid"]}) for i in range(4)]
    sinks = {c.subject: MemorySink() for c in contracts}
    with pytest.raises(TooManyRejects, match="users_created-value"):
        fetch_and_produce_all(load_settings({}), contracts,
                              RunConfig(seed="s", pages=1, batch_size=4, run_id="r"),
                              client=FakeClient(users), sinks=sinks)  # type: ignore[arg-type]
    assert all(not s.records and not s.rejects for s in sinks.values())


# -- the summary per subject -----------------------------------------------------------------


def test_summary_per_subject_and_totals_survive_xcom() -> None:
    page1 = ContractsSummary({
        "a-value": RunSummary(fetched=10, produced=9, rejected=1, pages=1, fetch_seconds=1.0,
                              map_seconds=0.5, produce_seconds=0.25, total_seconds=2.0),
        "b-value": RunSummary(fetched=10, produced=10, rejected=0, pages=1, fetch_seconds=1.0,
                              map_seconds=0.5, produce_seconds=0.25, total_seconds=2.0),
    })
    page2 = ContractsSummary({k: RunSummary(fetched=5, produced=5, pages=1)
                              for k in ("a-value", "b-value")})
    merged = merge_runs([page1.to_dict(), page2])
    assert merged.subjects == ["a-value", "b-value"]
    assert merged.by_subject["a-value"].produced == 14
    xcom = merged.to_dict()
    # The fetch counts once; what each contract did adds up.
    assert (xcom["fetched"], xcom["produced"], xcom["rejected"], xcom["pages"]) == (15, 29, 1, 2)
    assert xcom["map_seconds"] == 1.0 and xcom["fetch_seconds"] == 1.0
    assert xcom["subjects"]["b-value"]["produced"] == 15
    assert ContractsSummary.from_dict(xcom) == merged
    assert merged.unbalanced() == []
    assert ContractsSummary({"x": RunSummary(fetched=2, produced=1)}).unbalanced() == ["x"]


# -- make schemas-check on the sidecar -----------------------------------------------------


def test_the_gate_flags_unknown_sidecar_keys_and_a_rules_module_it_cannot_find(
    tmp_path: Path,
) -> None:
    from schematool.gate.sidecar import sidecar_findings

    path = write_contract(tmp_path / "schemas", "gated", "ks", "no_such_rules_mod",
                          extra='rule = "typo"\n')
    findings = sidecar_findings(tmp_path, load_contract_file(path))
    assert [(f.file, f.rule) for f in findings] == [
        ("schemas/gated-value.toml", "sidecar-keys"),
        ("schemas/gated-value.toml", "source-rules"),
    ]
    assert "'source.rule'" in findings[0].message and findings[0].line is not None
    assert "no_such_rules_mod" in findings[1].message


def test_the_gate_passes_the_repository_sidecar() -> None:
    from schematool.gate.sidecar import sidecar_findings

    contract = load_contract()
    assert sidecar_findings(contract.avsc_path.parent.parent, contract) == []


# -- make demo's summary per subject ---------------------------------------------------------


def test_the_demo_passes_only_if_every_subject_reconciles(own: Path) -> None:
    from config.airflow_api import DagRun
    from ops.demo import PipelineResult, SubjectResult, format_summary
    from ops.reconcile import Reconciliation

    def subject(contract: Any, stored: int) -> SubjectResult:
        return SubjectResult(contract, {"fetched": 10, "produced": 10, "rejected": 0},
                             {0: 0}, {0: 10}, Reconciliation(produced=10, stored=stored),
                             [1], "BACKWARD")

    own_contract, base = load_contracts(own)
    run = DagRun("user_automation", "manual__1", "success", None, None, {})
    good = PipelineResult("local", run, {"fetched": 10}, (subject(own_contract, 10),
                                                           subject(base, 10)), 1.0)
    assert good.counts_reconcile and good.of(base.subject).contract == base
    text = format_summary(good)
    assert f" -- {own_contract.subject}" in text and f" -- {base.subject}" in text
    assert "mapped to 2 contract(s)" in text and "yes" in text.splitlines()[-2]
    bad = PipelineResult("local", run, {"fetched": 10}, (subject(own_contract, 10),
                                                          subject(base, 9)), 1.0)
    assert not bad.counts_reconcile
    assert "counts reconcile   NO" in format_summary(bad)
