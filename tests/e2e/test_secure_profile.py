"""The secure profile end to end: `make demo PROFILE=secure` on a second stack of its own.

A whole stack (Kafka SASL_SSL + ACLs, the registry over HTTPS with basic auth, Cassandra
with roles over TLS, Airflow, the stream) runs in a temporary STACK_HOME on ports of its
own, beside the plain stack of the other tests. The demo must reconcile exactly; then a
poison message is dead-lettered, and no generated secret may appear anywhere a person or a
program could read it: logs, process arguments, `make env`, Airflow's task logs and XCom,
the rejects topic, the dead letters, an error message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer

from config import credentials
from config.airflow_api import AirflowApi
from config.clients import cassandra_session
from config.profile import as_role
from config.settings import PROJECT_ROOT, Secret, Settings, SettingsError, load_settings
from contract.catalog import load_contract
from tests.support import wait_until

pytestmark = pytest.mark.e2e

DAG_ID = "user_automation"
# Ports no other stack of the tests uses (the plain stack: the defaults).
PORTS = {
    "KAFKA_BOOTSTRAP_SERVERS": "localhost:39092",
    "SCHEMA_REGISTRY_URL": "https://localhost:38081/apis/ccompat/v7",
    "CASSANDRA_PORT": "39042",
    "STACK_CASSANDRA_STORAGE_PORT": "37000",
    "RANDOMUSER_LOCAL_URL": "http://127.0.0.1:38765/api/",
    "AIRFLOW_URL": "http://localhost:38080",
    "STACK_AIRFLOW_WORKER_LOG_PORT": "38793",
    "STACK_AIRFLOW_TRIGGER_LOG_PORT": "38794",
    "CONSOLE_PORT": "39021",
}
# Settings of this shell that must not leak into the second stack's commands.
CLEARED = ("STACK_HOME", "STACK_PROFILE", "STACK_ROLE", "STACK_EXTERNAL", "SPARK_CHECKPOINT_DIR",
           "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD",
           "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "CASSANDRA_USERNAME", "CASSANDRA_PASSWORD",
           "AIRFLOW_USERNAME", "AIRFLOW_PASSWORD", *PORTS)


@dataclass(frozen=True)
class SecureStack:
    home: Path
    env: dict[str, str]
    demo: subprocess.CompletedProcess

    def settings(self, role: str = "admin") -> Settings:
        return load_settings({**self.env, "STACK_ROLE": role})

    def secrets(self) -> list[str]:
        return credentials.load(self.home).every_secret()


def _run(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def secure_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureStack]:
    home = tmp_path_factory.mktemp("secure") / "stack"
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(PORTS, STACK_PROFILE="secure", STACK_HOME=str(home),
               SPARK_CHECKPOINT_DIR=str(home / "checkpoints"), PYTHONPATH=str(PROJECT_ROOT))
    try:
        demo = _run(env, "userstream", "demo", "--count", "40", "--source", "local")
        yield SecureStack(home, env, demo)
    finally:
        down = _run(env, "stack", "down", timeout=300)
        assert down.returncode == 0, down.stdout + down.stderr


def test_the_demo_reconciles_in_the_secure_profile(secure_stack: SecureStack) -> None:
    demo = secure_stack.demo
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    assert "counts reconcile   yes" in demo.stdout
    status = _run(secure_stack.env, "userstream", "status", timeout=120)
    assert status.returncode == 0, status.stdout + status.stderr


def test_a_command_of_the_plain_profile_is_refused(secure_stack: SecureStack) -> None:
    plain = {k: v for k, v in secure_stack.env.items() if k != "STACK_PROFILE"}
    result = _run(plain, "stack", "status", timeout=120)
    assert result.returncode == 1
    assert "runs the secure profile" in result.stderr and "PROFILE=secure" in result.stderr


def test_the_producer_may_write_only_its_topics(secure_stack: SecureStack) -> None:
    producer_settings = secure_stack.settings("producer")
    producer = Producer(producer_settings.kafka_client_config())
    errors: list[str] = []
    producer.produce("__consumer_offsets", value=b"x",
                     on_delivery=lambda err, _msg: errors.append(str(err)))
    producer.flush(30)
    assert errors and "TOPIC_AUTHORIZATION_FAILED" in errors[0]
    assert not any(secret in errors[0] for secret in secure_stack.secrets())


def test_a_wrong_password_is_refused_without_showing_it(secure_stack: SecureStack) -> None:
    wrong = replace(secure_stack.settings(), kafka_sasl_password=Secret("not-the-password"))
    consumer = Consumer({**wrong.kafka_client_config(), "group.id": "wrong-password"})
    try:
        with pytest.raises(KafkaException) as refused:
            consumer.list_topics(timeout=15)
    finally:
        consumer.close()
    assert "not-the-password" not in str(refused.value)


def test_a_poison_message_is_dead_lettered_without_a_secret(secure_stack: SecureStack) -> None:
    contract = load_contract()
    settings = secure_stack.settings()
    poison = os.urandom(24)
    producer = Producer(secure_stack.settings("producer").kafka_client_config())
    producer.produce(contract.topic, key=b"poison-secure", value=b"\x09" + poison)
    assert producer.flush(30) == 0

    def dead_lettered() -> list[str]:
        with cassandra_session(settings) as session:
            rows = session.execute(f"SELECT * FROM {contract.keyspace}.dead_letters")
            return [repr(row) for row in rows if "poison-secure" in repr(row)]

    rows = wait_until(dead_lettered, timeout=180, interval=2, message="the poison's dead letter")
    assert not any(secret in row for row in rows for secret in secure_stack.secrets())
    # make replay-dead-letters works as the stream (the poison stays a dead letter)
    replay = _run({**secure_stack.env, "STACK_ROLE": "stream"}, "stack", "spark", "streaming",
                  "replay-dead-letters", "--stage", "frame", timeout=600)
    assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-3000:]
    assert not any(s in replay.stdout + replay.stderr for s in secure_stack.secrets())
    assert dead_lettered()


def _files_under(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_size < 64 * 1024 * 1024:
            yield path


def test_no_secret_in_logs_arguments_env_xcom_or_rejects(secure_stack: SecureStack) -> None:
    secrets = secure_stack.secrets()
    # Every log the stack wrote, Airflow's task logs included.
    leaks = [f"{path}" for path in _files_under(secure_stack.home / "logs")
             if any(s in path.read_text(errors="replace") for s in secrets)]
    assert leaks == []
    # Process arguments, while the whole stack runs.
    ps = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True,
                        check=True).stdout
    assert not any(s in ps for s in secrets)
    # make env
    env_out = _run(secure_stack.env, "config", timeout=60)
    assert env_out.returncode == 0 and "KAFKA_SASL_PASSWORD=" in env_out.stdout
    assert not any(s in env_out.stdout + env_out.stderr for s in secrets)
    # Airflow's XCom of the demo's run
    settings = secure_stack.settings()
    with AirflowApi(settings) as api:
        run = api.latest_run(DAG_ID)
        assert run is not None
        xcoms = api._call("GET", f"/dags/{DAG_ID}/dagRuns/{run.run_id}/taskInstances/"
                          "~/xcomEntries", params={"limit": 100})
    assert xcoms["xcom_entries"] and not any(s in repr(xcoms) for s in secrets)
    # The rejects topic (read as the admin)
    contract = load_contract()
    consumer = Consumer({**settings.kafka_client_config(), "group.id": "secret-grep",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([contract.rejects_topic])
    try:
        messages = consumer.consume(num_messages=1000, timeout=10)
    finally:
        consumer.close()
    payloads = b"".join((m.value() or b"") + (m.key() or b"") for m in messages if not m.error())
    assert not any(s.encode() in payloads for s in secrets)


def test_roles_are_what_the_settings_give_each_process(secure_stack: SecureStack) -> None:
    admin = secure_stack.settings()
    assert as_role(admin, "stream").kafka_sasl_username == "stream"
    with pytest.raises(SettingsError, match="STACK_PROFILE=secure refuses"):
        load_settings({**secure_stack.env, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
