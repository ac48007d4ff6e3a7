"""The pure half of ``python -m schematool apply|diff``: plans and drift from a contract and
live state written by hand; the command line's error paths (no service is needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.schema_registry.error import SchemaRegistryError

from config.settings import load_settings
from contract.avro_types import SchemaError
from contract.catalog import Contract
from contract.cql import DEAD_LETTER_COLUMNS, LINEAGE_COLUMNS
from schematool.__main__ import main
from schematool.migrate.apply import ApplyError, PlanRefused, apply_plans, format_plan
from schematool.migrate.drift import (
    cassandra_drift,
    registry_drift,
    schema_differences,
    topic_drift,
)
from schematool.migrate.live import (
    KeyspaceState,
    LiveState,
    RegisteredVersion,
    RegistryState,
    RegistryVerdict,
    TableState,
    TopicState,
)
from schematool.migrate.observe import Services
from schematool.migrate.plan import (
    CreateTopic,
    RegisterSchema,
    SetCompatibility,
    StepPlan,
    SubjectPlan,
    plan_cassandra,
    plan_registry,
    plan_subject,
    plan_topics,
    validate_contracts,
)

KS = "ks"
ADDRESS = {"type": "record", "name": "Address", "doc": "a",
           "fields": [{"name": "city", "type": ["null", "string"], "default": None}]}
V1 = [
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "name", "type": "string"},
    {"name": "age", "type": ["null", "int"], "default": None},
    {"name": "address", "type": ["null", ADDRESS], "default": None},
]
NATIONALITY = {"name": "nationality", "type": ["null", "string"], "default": None}
V2 = [*V1, NATIONALITY]
V1_COLUMNS = {"id": "uuid", "name": "text", "age": "int", "address": "frozen<address>",
              **LINEAGE_COLUMNS}


def schema_text(fields: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "record", "name": "Person", "namespace": "t", "fields": fields})


def contract(
    fields: list[dict[str, Any]] = V2, *, compatibility: str = "BACKWARD", ttl: int = 0,
    partition_key: tuple[str, ...] = ("id",),
) -> Contract:
    return Contract(
        subject="people-value", topic="people", compatibility=compatibility, partitions=3,
        replication_factor=1, rejects_topic="people.rejected", keyspace=KS, table="people",
        partition_key=partition_key, clustering_key=(), ttl_seconds=ttl,
        avsc_path=Path("/repo/schemas/people-value.avsc"), schema_str=schema_text(fields),
    )


def keyspace(**types: dict[str, str]) -> KeyspaceState:
    return KeyspaceState(KS, True, MappingProxyType(types))


def table(columns: dict[str, str], **kw: Any) -> TableState:
    return TableState(KS, "people", MappingProxyType(columns), ("id",), (), **kw)


DEAD = TableState(KS, "dead_letters", MappingProxyType(dict(DEAD_LETTER_COLUMNS)),
                  ("topic", "partition"), ("offset", "kafka_timestamp"))
REGISTERED_V1 = RegisteredVersion(1, 11, schema_text(V1))


def statements(step: Any) -> list[str]:
    return [a.statement for a in step.actions]


# -- topics ----------------------------------------------------------------------------


def test_absent_topics_are_created_with_the_sidecars_partitions() -> None:
    step = plan_topics(contract(), {})
    assert step.actions == (CreateTopic("people", 3, 1), CreateTopic("people.rejected", 3, 1))
    assert not step.refusals


def test_existing_topics_with_the_right_partitions_need_nothing() -> None:
    topics = {n: TopicState(n, 3, 1) for n in ("people", "people.rejected")}
    assert plan_topics(contract(), topics).actions == ()


@pytest.mark.parametrize("partitions", [1, 6])
def test_a_different_partition_count_is_refused(partitions: int) -> None:
    topics = {"people": TopicState("people", partitions, 1),
              "people.rejected": TopicState("people.rejected", 3, 2)}
    step = plan_topics(contract(), topics)
    assert step.actions == ()
    [refusal] = step.refusals
    assert f"topic people has {partitions} partitions, the sidecar says 3" in refusal
    assert "per-key order" in refusal
    assert step.notes == ("topic people.rejected has replication factor 2, the sidecar says 1: "
                          "reassign its partitions with Kafka's tools",)


# -- cassandra -------------------------------------------------------------------------


def test_nothing_in_cassandra_creates_keyspace_type_table_and_dead_letters() -> None:
    step = plan_cassandra(contract(), KeyspaceState(KS), TableState(KS, "people"),
                          TableState(KS, "dead_letters"), replication_factor=3)
    heads = [a.describe() for a in step.actions]
    assert heads == ["CREATE KEYSPACE ks", "CREATE TYPE ks.address", "CREATE TABLE ks.people",
                     "CREATE TABLE ks.dead_letters"]
    assert "'replication_factor': 3" in statements(step)[0]
    assert re.search(r"\n    nationality +text,\n", statements(step)[2])
    assert "writer_schema_id" in statements(step)[2]


def test_a_new_optional_field_becomes_alter_table_add() -> None:
    step = plan_cassandra(contract(V2), keyspace(address={"city": "text"}), table(V1_COLUMNS),
                          DEAD)
    assert statements(step) == ["ALTER TABLE ks.people ADD IF NOT EXISTS nationality text"]
    assert not step.refusals


def test_a_new_nested_field_becomes_alter_type_add() -> None:
    nested = {**ADDRESS, "fields": [*ADDRESS["fields"],
                                    {"name": "zip", "type": ["null", "string"], "default": None}]}
    fields = [*V1[:3], {"name": "address", "type": ["null", nested], "default": None}]
    step = plan_cassandra(contract(fields), keyspace(address={"city": "text"}),
                          table(V1_COLUMNS), DEAD)
    assert statements(step) == ["ALTER TYPE ks.address ADD IF NOT EXISTS zip text"]


def test_in_sync_needs_nothing_and_reports_kept_columns() -> None:
    step = plan_cassandra(contract(V1), keyspace(address={"city": "text"}),
                          table({**V1_COLUMNS, "legacy": "text"}), DEAD)
    assert step.actions == () and not step.refusals
    assert step.notes == ("ks.people keeps columns the schema no longer has: legacy",)


def test_a_type_change_is_refused() -> None:
    step = plan_cassandra(contract(V1), keyspace(address={"city": "text"}),
                          table({**V1_COLUMNS, "age": "bigint"}), DEAD)
    [refusal] = step.refusals
    assert refusal.startswith("ks.people: refusing to migrate")
    assert "age: the table has bigint, the schema wants int" in refusal


def test_a_user_type_field_change_is_refused() -> None:
    step = plan_cassandra(contract(V1), keyspace(address={"city": "int"}), table(V1_COLUMNS), DEAD)
    assert step.refusals and step.refusals[0].startswith("type ks.address: refusing")


def test_a_primary_key_change_is_refused() -> None:
    step = plan_cassandra(contract(V1, partition_key=("name",)), keyspace(address={"city": "text"}),
                          table(V1_COLUMNS), DEAD)
    assert step.refusals == (
        "ks.people has primary key ((id)), the sidecar says ((name)): a primary key is fixed at "
        "CREATE TABLE; use a new table",
    )


def test_a_ttl_change_is_altered() -> None:
    step = plan_cassandra(contract(V1, ttl=60), keyspace(address={"city": "text"}),
                          table(V1_COLUMNS), DEAD)
    assert statements(step) == ["ALTER TABLE ks.people WITH default_time_to_live = 60"]


def test_reserved_words_match_their_live_unquoted_names() -> None:
    fields = [*V1, {"name": "token", "type": ["null", "string"], "default": None}]
    step = plan_cassandra(contract(fields), keyspace(address={"city": "text"}),
                          table(V1_COLUMNS), DEAD)
    assert statements(step) == ['ALTER TABLE ks.people ADD IF NOT EXISTS "token" text']
    step = plan_cassandra(contract(fields), keyspace(address={"city": "text"}),
                          table({**V1_COLUMNS, "token": "text"}), DEAD)
    assert step.actions == ()


def test_dead_letters_with_the_older_key_are_a_note_not_a_refusal() -> None:
    older = TableState(KS, "dead_letters", MappingProxyType(dict(DEAD_LETTER_COLUMNS)),
                       ("topic", "partition"), ("offset",))
    step = plan_cassandra(contract(V1), keyspace(address={"city": "text"}), table(V1_COLUMNS),
                          older)
    assert not step.refusals and not statements(step)
    assert any("ks.dead_letters has primary key ((topic, partition), offset)" in n
               and "one-time migration" in n for n in step.notes)
    current = plan_cassandra(contract(V1), keyspace(address={"city": "text"}),
                             table(V1_COLUMNS), DEAD)
    assert not any("dead_letters" in n for n in current.notes)


def test_dead_letters_missing_a_column_get_it_added() -> None:
    columns = {k: v for k, v in DEAD_LETTER_COLUMNS.items() if k != "replayed_at"}
    dead = TableState(KS, "dead_letters", MappingProxyType(columns))
    step = plan_cassandra(contract(V1), keyspace(address={"city": "text"}), table(V1_COLUMNS),
                          dead)
    assert statements(step) == [
        "ALTER TABLE ks.dead_letters ADD IF NOT EXISTS replayed_at timestamp"
    ]


# -- registry --------------------------------------------------------------------------


def test_a_new_subject_gets_its_level_then_v1() -> None:
    step = plan_registry(contract(V1), RegistryState("people-value"))
    assert step.actions == (SetCompatibility("people-value", "BACKWARD"),
                            RegisterSchema("people-value", schema_text(V1), 1))


def test_a_registered_schema_needs_nothing() -> None:
    state = RegistryState("people-value", (REGISTERED_V1,), REGISTERED_V1, "BACKWARD", "BACKWARD")
    step = plan_registry(contract(V1), state)
    assert step.actions == () and step.current == "v1 (id 11)"


def test_an_inherited_level_is_set_on_the_subject() -> None:
    # Apicurio reports NONE for a subject without its own level, which inherits the global one.
    state = RegistryState("people-value", (REGISTERED_V1,), REGISTERED_V1, "NONE", "BACKWARD")
    assert plan_registry(contract(V1), state).actions == (
        SetCompatibility("people-value", "BACKWARD"),)


def test_a_compatible_schema_is_registered_as_the_next_version() -> None:
    state = RegistryState("people-value", (REGISTERED_V1,), None, "BACKWARD", "BACKWARD",
                          RegistryVerdict(True, "BACKWARD"))
    step = plan_registry(contract(V2), state)
    assert step.actions == (RegisterSchema("people-value", schema_text(V2), 2),)


def test_refused_by_the_registry_names_the_field_paths() -> None:
    breaking = [*V1, {"name": "score", "type": "int"}]
    state = RegistryState("people-value", (REGISTERED_V1,), None, "BACKWARD", "BACKWARD",
                          RegistryVerdict(False, "BACKWARD", ("score: no default",)))
    step = plan_registry(contract(breaking), state)
    assert step.actions == ()
    verdict, finding = step.refusals
    assert verdict == ("the registry refuses schemas/people-value.avsc against v1 at level "
                       "BACKWARD: score: no default")
    assert finding.startswith("schemas/people-value.avsc: [avro-backward] score: BACKWARD:")
    assert "added without a default" in finding


def test_refused_locally_when_the_registry_judges_at_a_looser_level() -> None:
    breaking = [*V1[:2], {"name": "age", "type": "string"}, V1[3]]
    state = RegistryState("people-value", (REGISTERED_V1,), None, None, "NONE",
                          RegistryVerdict(True, "NONE"))
    step = plan_registry(contract(breaking), state)
    assert step.refusals[0].startswith("schemas/people-value.avsc is not BACKWARD compatible")
    assert "[avro-backward] age:" in step.refusals[1]


def test_refused_by_a_stricter_registry_level_asks_for_the_level_change_first() -> None:
    state = RegistryState("people-value", (REGISTERED_V1,), None, "FULL", "FULL",
                          RegistryVerdict(False, "FULL"))
    step = plan_registry(contract([*V1, {"name": "score", "type": "int"}], compatibility="NONE"),
                         state)
    assert "the registry judged at FULL but the sidecar asks NONE" in step.refusals[0]
    assert "local checker found no breaking field" in step.refusals[0]


def test_an_older_registered_version_is_noted() -> None:
    v2 = RegisteredVersion(2, 12, schema_text(V2))
    state = RegistryState("people-value", (REGISTERED_V1, v2), REGISTERED_V1, "BACKWARD",
                          "BACKWARD")
    step = plan_registry(contract(V1), state)
    assert step.actions == ()
    assert "registered as v1, but the subject's latest is v2" in step.notes[0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([{"name": "at", "type": {"type": "long", "logicalType": "nanos"}}],
         "unknown logical type"),
        ([{"name": "u", "type": ["int", "string"]}], "only [\"null\", T] is supported"),
    ],
)
def test_a_contract_no_service_could_take_fails_before_any_plan(
    fields: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(SchemaError, match="schemas/people-value.avsc") as raised:
        validate_contracts([contract([V1[0], *fields])])
    assert message in str(raised.value)


# -- the whole plan, its output, and refusing atomically ---------------------------------


def live(**change: Any) -> LiveState:
    base = {
        "registry": RegistryState("people-value", (REGISTERED_V1,), None, "BACKWARD",
                                  "BACKWARD", RegistryVerdict(True, "BACKWARD")),
        "topics": {n: TopicState(n, 3, 1) for n in ("people", "people.rejected")},
        "keyspace": keyspace(address={"city": "text"}),
        "table": table(V1_COLUMNS),
        "dead_letters": DEAD,
    }
    return LiveState(**{**base, **change})


def test_the_plan_and_the_result_read_as_one_line() -> None:
    plan = plan_subject(contract(V2), live())
    assert format_plan(plan) == [
        "people-value (dry run): topics: up to date; cassandra: would ALTER TABLE ks.people ADD "
        "nationality text; registry: would register v2"
    ]


def test_a_refused_plan_lists_every_refusal_and_applies_nothing() -> None:
    topics = {"people": TopicState("people", 1, 1),
              "people.rejected": TopicState("people.rejected", 3, 1)}
    plan = plan_subject(contract(V2), live(topics=topics, table=table(
        {**V1_COLUMNS, "age": "text"})))
    lines = format_plan(plan)
    assert lines[0] == "people-value: REFUSED, nothing applied"
    assert lines[1].startswith("  topics: topic people has 1 partitions")
    assert lines[2].startswith("  cassandra: ks.people: refusing to migrate")
    with pytest.raises(PlanRefused, match="refused, nothing applied: people-value"):
        apply_plans(None, [plan_subject(contract(V1), live()), plan])  # type: ignore[arg-type]


# -- drift -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry_fields", "expected"),
    [
        (V2, []),
        (V1, ["field nationality missing"]),
        ([*V2, {"name": "foo", "type": "string"}], ["field foo not in git"]),
        ([*V1, {**NATIONALITY, "doc": "x"}], ["field nationality differs (doc)"]),
        ([V2[1], V2[0], *V2[2:]], ["field order differs"]),
    ],
)
def test_schema_differences(registry_fields: list[dict[str, Any]], expected: list[str]) -> None:
    git = json.loads(schema_text(V2))
    assert schema_differences(git, json.loads(schema_text(registry_fields))) == expected


def test_registry_drift() -> None:
    assert registry_drift(contract(V2), RegistryState("people-value")) == [
        "registry has no version of people-value: schemas/people-value.avsc is not registered"
    ]
    state = RegistryState("people-value", (REGISTERED_V1,), None, None, "BACKWARD")
    assert registry_drift(contract(V2), state) == [
        "registry latest v1 differs from schemas/people-value.avsc: field nationality missing",
        "registry level of people-value is BACKWARD (inherited from the global level), "
        "the sidecar says BACKWARD",
    ]
    in_sync = RegistryState("people-value", (REGISTERED_V1,), REGISTERED_V1, "BACKWARD",
                            "BACKWARD")
    assert registry_drift(contract(V1), in_sync) == []


def test_cassandra_drift() -> None:
    live_table = table({**V1_COLUMNS, "foo": "text", "age": "bigint"})
    found = cassandra_drift(contract(V2), keyspace(address={"city": "text", "zip": "text"}),
                            live_table, TableState(KS, "dead_letters"))
    assert found == [
        "cassandra has extra field address.zip (text)",
        "cassandra missing column nationality (text)",
        "cassandra has extra column foo (text)",
        "cassandra column age is bigint, the schema wants int",
        "cassandra has no table ks.dead_letters",
    ]
    assert cassandra_drift(contract(V1), keyspace(address={"city": "text"}), table(V1_COLUMNS),
                           DEAD) == []
    assert cassandra_drift(contract(V1), KeyspaceState(KS), TableState(KS, "people"), DEAD) == [
        "cassandra has no keyspace ks"
    ]


def test_topic_drift() -> None:
    topics = {"people": TopicState("people", 2, 1)}
    assert topic_drift(contract(), topics) == [
        "kafka topic people has 2 partitions, the sidecar says 3",
        "kafka has no topic people.rejected",
    ]


# -- the command line: one line, non-zero, before any service is contacted ---------------


def write_repo(root: Path, avsc: str) -> Path:
    (root / "schemas").mkdir()
    (root / "schemas" / "people-value.avsc").write_text(avsc)
    (root / "schemas" / "people-value.toml").write_text(
        'subject = "people-value"\ntopic = "people"\ncompatibility = "BACKWARD"\n'
        '[kafka]\npartitions = 1\nreplication_factor = 1\nrejects_topic = "people.rejected"\n'
        '[cassandra]\nkeyspace = "ks"\ntable = "people"\npartition_key = ["id"]\n'
    )
    return root


@pytest.mark.parametrize("command", ["apply", "diff"])
@pytest.mark.parametrize(
    ("avsc", "message"),
    [
        ('{"type": "record", "name": "P", "fields": [', "schemas/people-value.avsc:1: not valid"),
        (schema_text([{"name": "id", "type": {"type": "int", "logicalType": "nanos"}}]),
         "schemas/people-value.avsc: field 'id': unknown logical type"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    command: str, avsc: str, message: str,
) -> None:
    # A registry that cannot answer: the file must be reported before any service is tried.
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://127.0.0.1:9/apis/ccompat/v7")
    assert main([command, "--repo", str(write_repo(tmp_path, avsc))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_unknown_subject_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = write_repo(tmp_path, schema_text(V1))
    assert main(["apply", "--repo", str(repo), "--subject", "nope-value"]) == 2
    assert "no schema for subject 'nope-value'" in capsys.readouterr().err


def test_registry_down_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://127.0.0.1:9/apis/ccompat/v7")
    assert main(["apply", "--repo", str(write_repo(tmp_path, schema_text(V1)))]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: registry at http://127.0.0.1:9/apis/ccompat/v7 is unreachable")


def test_credentials_in_the_registry_url_are_refused_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://user:secret@127.0.0.1:9/apis/ccompat/v7")
    assert main(["apply", "--repo", str(write_repo(tmp_path, schema_text(V1)))]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "must not carry credentials" in line
    assert "secret" not in line


# -- two `make schemas` at once: what the second finds already done ------------------------


def test_every_cassandra_statement_can_run_twice() -> None:
    """Both plans of two concurrent runs hold the same statements; each must be idempotent."""
    nested = {**ADDRESS, "fields": [*ADDRESS["fields"],
                                    {"name": "zip", "type": ["null", "string"], "default": None}]}
    fields = [*V2[:3], {"name": "address", "type": ["null", nested], "default": None},
              NATIONALITY]
    columns = {k: v for k, v in DEAD_LETTER_COLUMNS.items() if k != "replayed_at"}
    fresh = plan_cassandra(contract(fields), KeyspaceState(KS), TableState(KS, "people"),
                           TableState(KS, "dead_letters"))
    evolve = plan_cassandra(contract(fields, ttl=60), keyspace(address={"city": "text"}),
                            table(V1_COLUMNS), TableState(KS, "dead_letters",
                                                          MappingProxyType(columns)))
    assert statements(evolve) == [
        "ALTER TYPE ks.address ADD IF NOT EXISTS zip text",
        "ALTER TABLE ks.people ADD IF NOT EXISTS nationality text",
        "ALTER TABLE ks.people WITH default_time_to_live = 60",
        "ALTER TABLE ks.dead_letters ADD IF NOT EXISTS replayed_at timestamp",
    ]
    for statement in statements(fresh) + statements(evolve):
        head = statement.splitlines()[0]
        assert (re.match(r"CREATE (KEYSPACE|TYPE|TABLE) IF NOT EXISTS ", head)
                or " ADD IF NOT EXISTS " in head
                or " WITH default_time_to_live = " in head), head


class _Future:
    def __init__(self, error: KafkaError | None) -> None:
        self.error = error

    def result(self, timeout: float) -> None:
        if self.error is not None:
            raise KafkaException(self.error)


class _Admin:
    """A broker where another run created the topic first, with ``partitions``."""

    def __init__(self, partitions: int, error: int = KafkaError.TOPIC_ALREADY_EXISTS) -> None:
        self.partitions, self.code = partitions, error

    def create_topics(self, topics: list[Any]) -> dict[str, _Future]:
        return {t.topic: _Future(KafkaError(self.code)) for t in topics}

    def list_topics(self, timeout: float) -> Any:
        topic = SimpleNamespace(error=None, partitions=dict.fromkeys(range(self.partitions)))
        return SimpleNamespace(topics={"people": topic})


class _Registry:
    """A registry where another run registered the schema (and set the level) first."""

    def __init__(self, level: str = "BACKWARD", registered: bool = True) -> None:
        self.level, self.registered = level, registered

    def register_schema(self, subject: str, schema: Any) -> int:
        raise SchemaRegistryError(409, 409, "artifact already exists")

    def lookup_schema(self, subject: str, schema: Any) -> Any:
        if not self.registered:
            raise SchemaRegistryError(404, 40403, "schema not found")
        return SimpleNamespace(version=1, schema_id=7)

    def set_compatibility(self, subject: str, level: str) -> str:
        raise SchemaRegistryError(409, 409, "rule already exists")

    def get_compatibility(self, subject: str) -> str:
        return self.level


def _services(admin: Any = None, registry: Any = None) -> Services:
    settings = load_settings({})
    return Services(settings, registry, admin, None)  # type: ignore[arg-type]


def _apply(services: Services, *actions: Any) -> list[str]:
    plan = SubjectPlan("people-value", StepPlan("topics"), StepPlan("cassandra"),
                       StepPlan("registry", tuple(actions)))
    [result] = apply_plans(services, [plan])
    return result.done["registry"]


def test_a_topic_created_meanwhile_with_the_sidecars_partitions_is_success() -> None:
    plan = SubjectPlan("people-value", StepPlan("topics", (CreateTopic("people", 3, 1),)),
                       StepPlan("cassandra"), StepPlan("registry"))
    [result] = apply_plans(_services(admin=_Admin(3)), [plan])
    assert result.done["topics"] == ["people already created (3 partitions)"]


def test_a_topic_created_meanwhile_with_other_partitions_fails_naming_them() -> None:
    plan = SubjectPlan("people-value", StepPlan("topics", (CreateTopic("people", 3, 1),)),
                       StepPlan("cassandra"), StepPlan("registry"))
    with pytest.raises(ApplyError, match="created meanwhile with 2 partitions, the sidecar says 3"):
        apply_plans(_services(admin=_Admin(2)), [plan])


def test_another_topic_error_still_fails() -> None:
    plan = SubjectPlan("people-value", StepPlan("topics", (CreateTopic("people", 3, 1),)),
                       StepPlan("cassandra"), StepPlan("registry"))
    with pytest.raises(ApplyError, match=r"create people \(3 partitions\) failed"):
        apply_plans(_services(admin=_Admin(3, KafkaError.TOPIC_AUTHORIZATION_FAILED)), [plan])


def test_the_same_schema_registered_meanwhile_is_success() -> None:
    done = _apply(_services(registry=_Registry()), SetCompatibility("people-value", "BACKWARD"),
                  RegisterSchema("people-value", schema_text(V1), 1))
    assert done == ["compatibility BACKWARD already set", "v1 (id 7) already registered"]


def test_a_refused_registration_of_a_schema_not_there_still_fails() -> None:
    with pytest.raises(ApplyError, match="register v1 failed: .*artifact already exists"):
        _apply(_services(registry=_Registry(registered=False)),
               RegisterSchema("people-value", schema_text(V1), 1))
    with pytest.raises(ApplyError, match="set compatibility BACKWARD failed"):
        _apply(_services(registry=_Registry(level="NONE")),
               SetCompatibility("people-value", "BACKWARD"))
