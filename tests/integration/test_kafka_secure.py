"""Kafka in the secure profile, on a broker of the test's own (a tmp STACK_HOME, free ports):
who gets in (SASL_SSL, SCRAM-SHA-512, the stack's CA), and what each user may do once in
(the ACLs of schematool/kafka_acls.py).

The shared stack is not touched: this broker is started and stopped here.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from config import credentials
from config.settings import Settings, load_settings
from contract.catalog import Contract, load_contracts
from schematool.kafka_acls import apply_acls, contract_grants
from stack import launcher, process, secure
from stack.paths import StackPaths
from stack.services import Context, Kafka
from stack.tls import build_ca, cert_pem, new_key
from tests.support import unique_name, wait_for_topics, wait_until

pytestmark = pytest.mark.integration


def free_port_pair() -> int:
    """A free port whose next one is free too (the broker's, then its controller's)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports")


@dataclass(frozen=True)
class SecureBroker:
    env: dict[str, str]
    ctx: Context
    creds: credentials.StackCredentials

    def settings(self, role: str = "admin") -> Settings:
        return load_settings({**self.env, "STACK_ROLE": role})

    def client_config(self, role: str = "admin") -> dict[str, Any]:
        return self.settings(role).kafka_client_config()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    home = tmp_path_factory.mktemp("kafka-secure")
    env = {**os.environ, "STACK_PROFILE": "secure", "STACK_HOME": str(home),
           "KAFKA_BOOTSTRAP_SERVERS": f"localhost:{free_port_pair()}"}
    for name in ("STACK_ROLE", "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_USERNAME",
                 "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CA_LOCATION"):
        env.pop(name, None)
    secure.prepare(env)  # the CA, the certificates and the passwords, as `make up` does
    settings = load_settings(env)
    ctx = Context(settings, StackPaths.from_settings(settings))
    launcher.up(ctx, [Kafka()])
    try:
        yield SecureBroker(env, ctx, credentials.load(home))
    finally:
        launcher.down(ctx, [Kafka()])


@pytest.fixture(scope="module")
def contract(broker: SecureBroker) -> Contract:
    """A contract of the test's own, its topics made and its ACLs applied by admin."""
    name = unique_name("it_kafka_sec")
    ours = replace(load_contracts()[0], topic=name, rejects_topic=f"{name}.rejected")
    admin = AdminClient(broker.client_config())
    topics = [ours.topic, ours.rejects_topic, f"{name}_nobody"]
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        future.result(timeout=15)
    wait_for_topics(admin, topics)
    lines = apply_acls(broker.settings(), [ours])
    assert lines == [str(g) for g in contract_grants([ours])]
    assert apply_acls(broker.settings(), [ours]) == lines  # again: nothing changes
    return ours


@dataclass
class Refusal:
    """What a client is told while it tries to connect: its errors and librdkafka's log."""

    errors: list[KafkaError] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def text(self) -> str:
        return " | ".join([e.str() for e in self.errors] + self.log)


class _Lines(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


def refusal(conf: dict[str, Any], until: str, code: int | None = None) -> Refusal:
    """Connect with ``conf`` until the errors or the log say ``until`` (and, given a
    ``code``, an error with it arrived); fail if let in. librdkafka's log line can come
    one poll before the error callback, so the code is waited for, not assumed."""
    seen = Refusal()
    logger = logging.getLogger(f"test_kafka_secure.{unique_name('client')}")
    logger.addHandler(_Lines(seen.log))
    logger.propagate = False
    logger.setLevel(logging.INFO)  # librdkafka says "Disconnected" at level 6, info
    client = Producer({**conf, "logger": logger, "error_cb": seen.errors.append})
    wait_until(lambda: (client.poll(0.2) or True) and until in seen.text()
               and (code is None or any(e.code() == code for e in seen.errors)),
               timeout=15, message=f"a refusal saying {until!r} (error code {code})")
    with pytest.raises(KafkaException):
        client.list_topics(timeout=2)
    return seen


def produce(conf: dict[str, Any], topic: str, *, idempotent: bool = True) -> KafkaError | None:
    """Write one record as the pipeline's producer does (idempotent, acks=all); its error,
    from the delivery report or from the producer itself (a fatal one)."""
    outcome: list[KafkaError | None] = []
    producer = Producer({**conf, "enable.idempotence": idempotent, "acks": "all"})
    try:
        producer.produce(topic, key=b"k", value=b"v",
                         on_delivery=lambda err, _msg: outcome.append(err))
        producer.flush(15)
    except KafkaException as exc:
        return exc.args[0]
    assert outcome, f"no delivery report for {topic} within 15 s"
    return outcome[0]


def test_admin_lists_topics(broker: SecureBroker, contract: Contract) -> None:
    metadata = AdminClient(broker.client_config()).list_topics(timeout=10)
    assert {contract.topic, contract.rejects_topic} <= set(metadata.topics)


def test_a_wrong_password_is_refused_by_name(broker: SecureBroker) -> None:
    conf = {**broker.client_config("producer"), "sasl.password": "not-the-password"}
    seen = refusal(conf, "Authentication failed", KafkaError._AUTHENTICATION)
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in seen.text()


def test_a_plaintext_client_is_refused(broker: SecureBroker) -> None:
    conf = {"bootstrap.servers": broker.settings().kafka_bootstrap_servers,
            "security.protocol": "PLAINTEXT"}
    seen = refusal(conf, "APIVERSION_QUERY")  # the broker hung up on its first request
    assert "Disconnected" in seen.text() or "closed by peer" in seen.text(), seen.text()


def test_a_client_not_trusting_the_stack_ca_is_refused(broker: SecureBroker,
                                                        tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(cert_pem(build_ca(new_key(), dt.datetime.now(dt.UTC))))
    conf = {**broker.client_config(), "ssl.ca.location": str(other_ca)}
    refusal(conf, "certificate verify failed", KafkaError._SSL)


def test_the_producer_writes_its_topics_and_no_other(broker: SecureBroker,
                                                      contract: Contract) -> None:
    conf = broker.client_config("producer")
    assert produce(conf, contract.topic) is None
    assert produce(conf, contract.rejects_topic) is None
    refused = produce(conf, f"{contract.topic}_nobody")
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_the_stream_reads_its_topic_and_cannot_write(broker: SecureBroker,
                                                      contract: Contract) -> None:
    assert produce(broker.client_config("producer"), contract.topic) is None
    stream = broker.client_config("stream")
    # The idempotent producer is refused its producer id: no WRITE on any topic.
    refused = produce(stream, contract.topic)
    assert refused is not None and refused.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    refused = produce(stream, contract.topic, idempotent=False)
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    consumer = Consumer({**broker.client_config("stream"),
                         "group.id": "spark-kafka-source-it", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(contract.topic, 0, 0)])
        first = wait_until(lambda: _value(consumer.poll(0.5)), timeout=15,
                           message=f"a record of {contract.topic} read as stream")
    finally:
        consumer.close()
    assert first == b"v"


def test_no_password_in_the_broker_s_arguments_or_its_home(broker: SecureBroker) -> None:
    record = process.running(broker.ctx.paths.pidfile("kafka"))
    assert record is not None
    argv = Path(f"/proc/{record.pid}/cmdline").read_bytes().decode(errors="replace")
    assert "server.properties" in argv
    secrets = [broker.creds.password("kafka", u).reveal() for u in credentials.KAFKA_USERS.values()]
    assert not any(secret in argv for secret in secrets)
    conf = broker.ctx.paths.conf_dir / "kafka" / "server.properties"
    assert conf.stat().st_mode & 0o077 == 0
    for path in broker.ctx.paths.home.rglob("*"):
        if path.is_file() and path not in (conf, credentials.path_under(broker.ctx.paths.home)):
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), path


def _value(message: Message | None) -> bytes | None:
    if message is None or message.error():
        return None
    return message.value()


def test_spark_s_kafka_source_reads_as_stream(broker: SecureBroker, contract: Contract) -> None:
    """Spark 3.5's source (AdminClient offsets, assigned consumers) with the stream's ACLs."""
    from pyspark.sql import SparkSession

    from stack.spark import with_spark_runtime
    from streaming.session import build_spark_session

    assert produce(broker.client_config("producer"), contract.topic) is None
    settings = with_spark_runtime(broker.settings("stream"))
    ours = SparkSession.getActiveSession() is None
    spark = build_spark_session(settings, "it-kafka-secure", master="local[1]")
    try:
        rows = (spark.read.format("kafka").options(**settings.spark_kafka_options())
                .option("subscribe", contract.topic).option("startingOffsets", "earliest")
                .load().count())
    finally:
        if ours:
            spark.stop()
    assert rows >= 1
