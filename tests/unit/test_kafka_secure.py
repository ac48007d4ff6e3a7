"""Kafka in the secure profile, without a broker: the rendered server.properties, the storage
format's SCRAM users kept out of the process arguments, and the ACLs of schematool/kafka_acls."""

from __future__ import annotations

import stat
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from config import credentials
from config.settings import Secret, Settings
from contract.catalog import load_contracts
from schematool.kafka_acls import SPARK_GROUP_PREFIX, Grant, apply_acls, binding, contract_grants
from stack.paths import StackPaths
from stack.services import Context, Kafka, ServiceError, render
from stack.services import kafka as kafka_service
from stack.tls import TlsPaths

PASSWORD = "s3cret-Admin_password"


def _properties(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def _secure_text(tmp_path: Path) -> str:
    return kafka_service.server_properties(
        "secure", port=29092, controller_port=29093, data_dir=tmp_path / "data",
        tls=TlsPaths.under(tmp_path), admin_password=Secret(PASSWORD),
    )


def test_the_plain_profile_renders_the_template_unchanged(tmp_path: Path) -> None:
    text = kafka_service.server_properties(
        "plain", port=19092, controller_port=19093, data_dir=tmp_path / "data",
        tls=TlsPaths.under(tmp_path), admin_password=Secret(""),
    )
    rendered = render("kafka/server.properties", tmp_path / "t.properties",
                      port=19092, controller_port=19093, data_dir=tmp_path / "data")
    assert text == rendered.read_text()
    assert "SASL" not in text and "authorizer" not in text


def test_the_secure_profile_listens_sasl_ssl_and_authorizes(tmp_path: Path) -> None:
    props = _properties(_secure_text(tmp_path))
    assert all(len(values) == 1 for values in props.values()), "one value per key"
    one = {key: values[0] for key, values in props.items()}
    tls = TlsPaths.under(tmp_path)
    assert one["listeners"] == "SASL_SSL://localhost:29092,CONTROLLER://localhost:29093"
    assert one["advertised.listeners"] == "SASL_SSL://localhost:29092"
    assert one["listener.security.protocol.map"] == "CONTROLLER:SSL,SASL_SSL:SASL_SSL"
    assert one["inter.broker.listener.name"] == "SASL_SSL"
    assert one["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert one["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert one["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="admin" password="{PASSWORD}";'
    )
    assert one["ssl.keystore.type"] == "PEM"
    assert one["ssl.keystore.location"] == str(tls.keystore("kafka"))
    assert one["ssl.truststore.location"] == str(tls.ca_cert)
    # The controller: mutual TLS with the broker's certificate, whose CN is a super user.
    assert one["listener.name.controller.ssl.client.auth"] == "required"
    assert one["listener.name.controller.ssl.keystore.type"] == "PEM"
    assert one["listener.name.controller.ssl.keystore.location"] == str(tls.keystore("kafka"))
    assert one["authorizer.class.name"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer")
    assert one["super.users"] == "User:admin;User:CN=kafka"
    assert one["allow.everyone.if.no.acl.found"] == "false"
    # What the plain template says of the rest is kept.
    assert one["auto.create.topics.enable"] == "false"
    assert one["log.dirs"] == str(tmp_path / "data")


def test_no_plaintext_listener_is_left(tmp_path: Path) -> None:
    text = _secure_text(tmp_path)
    assert "PLAINTEXT" not in text
    assert "${" not in text


def test_override_replaces_keys_and_keeps_the_rest() -> None:
    base = "# a comment=1\na=1\nb=2\n\nc=3\n"
    assert kafka_service.override(base, "b=20\nd=4\n") == "# a comment=1\na=1\n\nc=3\n\nb=20\nd=4\n"


def test_argfile_quotes_each_argument() -> None:
    text = kafka_service.argfile_text(["-cp", "a b.jar", 'say "hi"', "back\\slash"])
    assert text.splitlines() == ['"-cp"', '"a b.jar"', '"say \\"hi\\""', '"back\\\\slash"']


@pytest.fixture
def secure_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    home = tmp_path / "home"
    credentials.ensure(home)
    tls = TlsPaths.under(home)
    tls.dir.mkdir(parents=True)
    tls.keystore("kafka").write_text("not read here")
    monkeypatch.setattr(kafka_service.maven, "classpath", lambda name, paths: [Path("k.jar")])
    monkeypatch.setattr(kafka_service.Kafka, "_java", lambda self: "/opt/java/bin/java")
    settings = Settings(stack_profile="secure", stack_home=str(home),
                        kafka_bootstrap_servers="localhost:29092")
    return Context(settings, StackPaths.from_settings(settings))


class FakeRun:
    """subprocess.run's stand-in: records the argv and the argfile as the JVM would see it."""

    def __init__(self, returncode: int = 0, output: str = "") -> None:
        self.returncode = returncode
        self.output = output
        self.argv: list[str] = []
        self.argfile = ""
        self.argfile_mode = 0

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.argv = list(argv)
        path = Path(argv[-1].removeprefix("@"))
        self.argfile = path.read_text()
        self.argfile_mode = stat.S_IMODE(path.stat().st_mode)
        return subprocess.CompletedProcess(argv, self.returncode, self.output, "")


def test_format_gives_the_scram_users_through_a_private_argfile(
        secure_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRun()
    monkeypatch.setattr(kafka_service.subprocess, "run", fake)
    Kafka().prepare(secure_ctx)
    creds = credentials.load(secure_ctx.paths.home)
    secrets = [creds.password("kafka", u).reveal() for u in credentials.KAFKA_USERS.values()]
    argv = " ".join(fake.argv)
    assert fake.argv[0] == "/opt/java/bin/java" and fake.argv[1].startswith("@")
    assert len(fake.argv) == 2
    assert not any(secret in argv for secret in secrets)
    assert fake.argfile_mode == 0o600
    for user, secret in zip(credentials.KAFKA_USERS.values(), secrets, strict=True):
        assert f'"SCRAM-SHA-512=[name={user},password={secret}]"' in fake.argfile
    assert '"kafka.tools.StorageTool"\n"format"\n"--cluster-id=' in fake.argfile
    assert not Path(fake.argv[1][1:]).exists(), "the argfile is deleted at once"
    conf = secure_ctx.paths.conf_dir / "kafka" / "server.properties"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert creds.password("kafka", "admin").reveal() in conf.read_text()


def test_a_failed_format_names_no_password(
        secure_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = credentials.load(secure_ctx.paths.home).password("kafka", "producer").reveal()
    fake = FakeRun(returncode=1, output=f"bad value name=producer,password={secret}")
    monkeypatch.setattr(kafka_service.subprocess, "run", fake)
    with pytest.raises(ServiceError) as raised:
        Kafka().prepare(secure_ctx)
    assert secret not in str(raised.value)
    assert "password=***" in str(raised.value)
    assert not list((secure_ctx.paths.conf_dir / "kafka").glob("*.args"))


def test_the_secure_profile_needs_the_kafka_keystore(
        secure_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    TlsPaths.under(secure_ctx.paths.home).keystore("kafka").unlink()
    monkeypatch.setattr(kafka_service.subprocess, "run", FakeRun())
    with pytest.raises(ServiceError, match="no keystore"):
        Kafka().prepare(secure_ctx)


# -- ACLs ---------------------------------------------------------------------------------

def _two_contracts() -> list[Any]:
    base = load_contracts()[0]
    return [replace(base, topic="a", rejects_topic="a.rejected"),
            replace(base, topic="b", rejects_topic="b.rejected")]


def test_the_producer_writes_and_describes_its_topics_and_nothing_else() -> None:
    producer = {(g.resource, g.name, g.operation, g.pattern)
                for g in contract_grants(_two_contracts()) if g.user == "producer"}
    assert producer == {("TOPIC", topic, op, "LITERAL")
                        for topic in ("a", "a.rejected", "b", "b.rejected")
                        for op in ("WRITE", "DESCRIBE")}


def test_the_stream_reads_its_topics_and_spark_s_groups_only() -> None:
    stream = {(g.resource, g.name, g.operation, g.pattern)
              for g in contract_grants(_two_contracts()) if g.user == "stream"}
    assert stream == {("TOPIC", "a", "READ", "LITERAL"), ("TOPIC", "a", "DESCRIBE", "LITERAL"),
                      ("TOPIC", "b", "READ", "LITERAL"), ("TOPIC", "b", "DESCRIBE", "LITERAL"),
                      ("GROUP", SPARK_GROUP_PREFIX, "READ", "PREFIXED")}


def test_grants_are_listed_once_and_only_for_the_two_pipeline_users() -> None:
    contracts = _two_contracts()
    grants = contract_grants([*contracts, *contracts])
    assert grants == sorted(set(grants))
    assert {g.user for g in grants} == {"producer", "stream"}
    assert contract_grants([]) == []


def test_a_grant_becomes_an_allow_binding_from_any_host() -> None:
    grant = Grant("stream", "GROUP", SPARK_GROUP_PREFIX, "READ", "PREFIXED")
    acl = binding(grant)
    assert (acl.restype.name, acl.name, acl.resource_pattern_type.name, acl.principal,
            acl.host, acl.operation.name, acl.permission_type.name) == (
        "GROUP", "spark-kafka-source-", "PREFIXED", "User:stream", "*", "READ", "ALLOW")
    assert str(grant) == "ALLOW User:stream READ GROUP spark-kafka-source-*"


def test_the_plain_profile_applies_no_acl() -> None:
    # No broker at that address: nothing may be asked of it.
    settings = Settings(kafka_bootstrap_servers="localhost:1")
    assert apply_acls(settings, load_contracts()) == []
