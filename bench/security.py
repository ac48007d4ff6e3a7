"""bench-secure: what TLS and SASL cost, the same measurements on a plain and a secure stack.

``python -m bench security`` (``make bench-secure``) needs the plain stack up (``make up``:
the measured stages also fetch their users from its local randomuser server). It starts a
secure stack of its own (``STACK_PROFILE=secure`` in a temporary ``STACK_HOME``, ports 4xxxx,
only Kafka, the registry and Cassandra), runs the measurements on both, interleaved (plain,
secure, plain, secure), saves the result beside the other stages' and writes its section
of docs/performance.md; the secure stack is stopped by its own ``python -m stack down`` at
the end, whatever happened.

Each run is a child process, ``python -m bench.security measure --out FILE``, with the
plain or the secure environment: its settings are loaded from that environment as any
command loads them (the secure profile's CA and credentials, the stamp check), its JVMs
(Spark, Kafka's tools) start fresh, and one Spark JVM at a time shares the two cores with
both stacks. A run writes its own result file, never the stages' results of ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from bench import kafka_tools, produce
from bench.results import Figure, StageResult
from bench.security_report import MEASURES, PROFILES, RUNS_KEY, TLS_NOTE, series_key
from bench.stats import best, rate
from bench.stream import (
    batch_read,
    decoded_rows,
    fill_topic,
    spark_session,
    timed_runs,
    to_noop,
    unique_records,
)
from config.settings import PROJECT_ROOT, Settings

log = logging.getLogger("bench.security")  # also when run as __main__ (the child)

SERVICES = ("kafka", "registry", "cassandra")
# Ports of the secure stack: no other stack on this machine uses them (the plain one has the
# defaults, tests/e2e/test_secure_profile.py 3xxxx). Kafka's controller takes port + 1,
# the registry's management interface port + 1000.
PORTS = {
    "KAFKA_BOOTSTRAP_SERVERS": "localhost:49092",
    "SCHEMA_REGISTRY_URL": "https://localhost:48081/apis/ccompat/v7",
    "CASSANDRA_PORT": "49042",
    "STACK_CASSANDRA_STORAGE_PORT": "47000",
}
# Settings of this shell that must not reach the secure stack's commands.
CLEARED = ("STACK_HOME", "STACK_PROFILE", "STACK_ROLE", "STACK_EXTERNAL", "SPARK_CHECKPOINT_DIR",
           "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME",
           "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CA_LOCATION", "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO",
           "SCHEMA_REGISTRY_SSL_CA_LOCATION", "CASSANDRA_USERNAME", "CASSANDRA_PASSWORD",
           "CASSANDRA_SSL_CA_LOCATION", *PORTS)
STACK_TIMEOUT_S = 600.0
RUN_TIMEOUT_S = 900.0
POOL_SIZE = 5000
SEED = "bench-security"


class SecurityBenchError(RuntimeError):
    """The comparison cannot run or a run failed; the message says which and why."""


@dataclass(frozen=True)
class SecurityConfig:
    # Half of bench-produce's and bench-stream's sizes: four runs and a secure stack's start
    # in ~10 min on the 2-core machine (a run with their sizes took 100-200 s).
    rounds: int = 2  # plain then secure, this many times
    produce_records: int = 100_000
    produce_repeats: int = 2  # ContractProducer and ProducerPerformance, interleaved
    stream_records: int = 50_000
    read_repeats: int = 3
    write_repeats: int = 2

    def child_args(self) -> list[str]:
        return ["--produce-records", str(self.produce_records),
                "--produce-repeats", str(self.produce_repeats),
                "--stream-records", str(self.stream_records),
                "--read-repeats", str(self.read_repeats),
                "--write-repeats", str(self.write_repeats)]


# -- the environments -------------------------------------------------------------------------


def plain_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return {**environ, "PYTHONPATH": str(PROJECT_ROOT)}


def secure_environment(environ: Mapping[str, str], home: Path) -> dict[str, str]:
    """The secure stack's environment: its own home and ports, the profile's defaults for
    every security setting (the CA under ``home``, the admin role's credentials).

    The users still come from the plain stack's local randomuser server: the source is not
    a hop the profile secures, and both sides then measure the same users."""
    env = {k: v for k, v in environ.items() if k not in CLEARED}
    env.update(PORTS, STACK_PROFILE="secure", STACK_HOME=str(home),
               SPARK_CHECKPOINT_DIR=str(home / "checkpoints"), PYTHONPATH=str(PROJECT_ROOT))
    return env


def stack_command(env: Mapping[str, str], *args: str, which: str = "the secure stack") -> None:
    """``python -m stack ARGS`` with ``env``; its output goes to this process's."""
    started = time.monotonic()
    try:
        code = subprocess.call([sys.executable, "-m", "stack", *args], env=dict(env),
                               cwd=PROJECT_ROOT, timeout=STACK_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise SecurityBenchError(f"`python -m stack {' '.join(args)}` on {which} did not "
                                 f"finish within {STACK_TIMEOUT_S:.0f} s") from exc
    if code != 0:
        raise SecurityBenchError(f"`python -m stack {' '.join(args)}` on {which} exited "
                                 f"{code} (its output is above)")
    log.info("stack %s: %.0f s", " ".join(args), time.monotonic() - started)


def measure_in_child(env: Mapping[str, str], profile: str, config: SecurityConfig,
                     out: Path) -> StageResult:
    started = time.monotonic()
    argv = [sys.executable, "-m", "bench.security", "measure", "--out", str(out),
            *config.child_args()]
    try:
        code = subprocess.call(argv, env=dict(env), cwd=PROJECT_ROOT, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise SecurityBenchError(f"the {profile} run did not finish within "
                                 f"{RUN_TIMEOUT_S:.0f} s") from exc
    if code != 0:
        raise SecurityBenchError(f"the {profile} run exited {code} (its log is above)")
    result = StageResult.from_dict(json.loads(out.read_text()))
    log.info("%s run: %.0f s", profile, time.monotonic() - started)
    return result


# -- what a secure hop negotiated -----------------------------------------------------------


def tls_handshake(host: str, port: int, cafile: str, timeout: float = 10.0) -> tuple[str, str]:
    """TLS version and cipher suite a service agrees with an OpenSSL client (Python's ssl,
    the library librdkafka and the Python drivers use too), trusting only ``cafile``."""
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((host, port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        cipher = tls.cipher()
        return tls.version() or "?", cipher[0] if cipher else "?"


def negotiated(settings: Settings) -> list[str]:
    """One note per secure listener: what an OpenSSL client's handshake negotiated."""
    registry = urlparse(settings.schema_registry_url)
    host, _, port = settings.kafka_bootstrap_servers.split(",")[0].rpartition(":")
    listeners = [
        ("Kafka (SASL_SSL listener)", host, int(port), settings.kafka_ssl_ca_location),
        ("registry (HTTPS)", registry.hostname or "localhost", registry.port or 443,
         settings.schema_registry_ssl_ca_location),
        ("Cassandra (native protocol)", settings.cassandra_host_list[0],
         settings.cassandra_port, settings.cassandra_ssl_ca_location),
    ]
    notes = []
    for name, host_name, port_number, ca in listeners:
        try:
            version, cipher = tls_handshake(host_name, port_number, ca)
        except (OSError, ssl.SSLError) as exc:
            notes.append(f"{TLS_NOTE}{name}: no handshake ({exc.__class__.__name__}: {exc})")
            continue
        notes.append(f"{TLS_NOTE}{name}: {version}, {cipher} (an OpenSSL client's handshake)")
    return notes


def cassandra_clients_tls(settings: Settings) -> list[str]:
    """What Cassandra says the measuring user's connections negotiated (the connector's
    among them). ``system_views.clients`` is the superuser's view: the bench reads it as
    the superuser of the secure stack it started, as tests/integration does."""
    from cassandra import DriverException
    from cassandra.cluster import NoHostAvailable

    from config import credentials
    from config.clients import cassandra_session

    superuser = credentials.CASSANDRA_SUPERUSER
    try:
        password = credentials.load(Path(settings.stack_home)).password("cassandra", superuser)
        with cassandra_session(replace(settings, cassandra_username=superuser,
                                       cassandra_password=password)) as session:
            rows = list(session.execute(
                "SELECT username, driver_name, ssl_enabled, ssl_protocol, ssl_cipher_suite "
                "FROM system_views.clients"))
    except (DriverException, NoHostAvailable, credentials.CredentialsError) as exc:
        return [f"{TLS_NOTE}Cassandra's clients: not read ({exc.__class__.__name__}: {exc})"]
    seen = {(r.driver_name or "unnamed driver", r.ssl_protocol, r.ssl_cipher_suite)
            for r in rows if r.ssl_enabled and r.username == settings.cassandra_username}
    return [f"{TLS_NOTE}Cassandra, as the node saw the connections of the {driver}: "
            f"{protocol}, {cipher}" for driver, protocol, cipher in sorted(seen, key=str)]


# -- one run (the child) ----------------------------------------------------------------------


def _record(result: StageResult, key: str, rates: Sequence[float]) -> None:
    result.series.setdefault(key, []).extend(rates)
    log.info("%s: %s", key, ", ".join(f"{r:,.0f}" for r in rates))


def measure_producer(settings: Settings, config: SecurityConfig, result: StageResult) -> None:
    """ContractProducer and ProducerPerformance, interleaved, as bench-produce times them."""
    from producers.kafka_producer import ProducerTuning
    from producers.mapping import map_users
    from producers.randomuser_client import RandomUserClient, base_url_for
    from schematool.sandbox import sandbox

    with sandbox(settings, prefix="bench_secure_produce") as box:
        contract = box.contract
        with RandomUserClient(base_url_for(settings, "local")) as client:
            users = client.fetch_page(results=POOL_SIZE, page=1, seed=SEED).users
        pool = list(map_users(users, contract).records)
        values, _ = produce.encode_all(settings, contract, pool)
        size = round(sum(len(v) for v in values) / len(values))
        sent = list(unique_records(pool, config.produce_records, f"{contract.topic}-produce"))
        tuning = ProducerTuning()
        for _ in range(config.produce_repeats):
            _record(result, "produce.contract_producer",
                    [produce.produce_records(settings, contract, sent, tuning)])
            tool = kafka_tools.producer_performance(
                settings, contract.topic, records=config.produce_records, record_size=size,
                producer_props=produce.tool_props(tuning))
            _record(result, "produce.producer_performance", [tool.records_per_s])
        result.notes.append(f"producer: {config.produce_records:,} records of {size} B "
                            f"(Avro), {produce.tuning_label(tuning)}, acks=all, idempotent")


def measure_stream(settings: Settings, config: SecurityConfig, result: StageResult) -> None:
    """ConsumerPerformance, the Spark read and the connector's write, as bench-stream."""
    from config.clients import schema_registry_client
    from schematool.sandbox import sandbox
    from streaming.cassandra_writer import write_table  # Spark
    from streaming.registry import RegistrySchemas
    from streaming.table_target import TableTarget
    from streaming.triage import table_rows

    n = config.stream_records
    with sandbox(settings, prefix="bench_secure_stream") as box:
        contract = box.contract
        fill_topic(settings, contract, n)
        perf = kafka_tools.consumer_performance(settings, contract.topic, messages=n)
        _record(result, "stream.consumer_performance", [perf.records_per_s])
        schemas = RegistrySchemas(schema_registry_client(settings), contract.subject)
        reader = schemas.reader()
        writer = schemas.writer(reader.schema_id)
        if writer is None:
            raise SecurityBenchError(f"schema id {reader.schema_id} of {contract.subject} "
                                     "not found in the registry")
        target = TableTarget.from_contract(contract)
        with spark_session(settings) as spark:
            source = batch_read(spark, settings, contract)
            to_noop(source)  # warm-up: JIT, the Kafka consumer pool (and its handshakes)
            _record(result, "stream.read",
                    [rate(n, s) for s in timed_runs(lambda: to_noop(source),
                                                    config.read_repeats)])
            rows = table_rows(decoded_rows(source, reader, {reader.schema_id: writer}),
                              reader.field_names, target).persist()
            rows.count()  # the writes below time the connector alone
            write_table(rows, target.keyspace, target.table)  # untimed: session, plan
            _record(result, "stream.write", [rate(n, s) for s in timed_runs(
                lambda: write_table(rows, target.keyspace, target.table),
                config.write_repeats)])
            if settings.stack_profile == "secure":  # while the connector's session is open
                result.notes.extend(cassandra_clients_tls(settings))
            rows.unpersist()
            result.notes.append(f"stream: {n:,} records, Spark {spark.version}, master "
                                f"{settings.spark_master}, {contract.partitions} partitions")


def measure(settings: Settings, config: SecurityConfig) -> StageResult:
    result = StageResult(f"security-{settings.stack_profile}",
                         datetime.now(UTC).isoformat(timespec="seconds"))
    started = time.monotonic()
    measure_producer(settings, config, result)
    measure_stream(settings, config, result)
    result.seconds = time.monotonic() - started
    return result


# -- the comparison (the parent) ----------------------------------------------------------------


def combine(runs: Sequence[tuple[str, StageResult]], started_at: str) -> StageResult:
    """One result of every run: each profile's rates per measure, its best as a figure."""
    result = StageResult("security", started_at)
    for profile, run in runs:
        for key, rates in run.series.items():
            result.series.setdefault(series_key(profile, key), []).extend(rates)
        result.notes.extend(n for n in run.notes if n not in result.notes)
    for measure in MEASURES:
        for profile in PROFILES:
            rates = result.series.get(series_key(profile, measure.key), [])
            if rates:
                result.add(Figure(f"security.{profile}.{measure.key}",
                                  f"{measure.label} ({profile})", best(rates), measure.unit,
                                  f"{len(rates)} timings: "
                                  + ", ".join(f"{r:,.0f}" for r in rates)))
    per_profile = min(sum(1 for p, _ in runs if p == profile) for profile in PROFILES)
    result.add(Figure(RUNS_KEY, "runs per profile", per_profile, "runs", "interleaved"))
    return result


def run(settings: Settings, config: SecurityConfig) -> StageResult:
    """Start the secure stack, measure both interleaved, stop it; the combined result."""
    if settings.stack_profile != "plain":
        raise SecurityBenchError(
            f"run it with the plain profile (STACK_PROFILE={settings.stack_profile}): it "
            "measures the plain stack and starts a secure one of its own")
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    load_at_start = os.getloadavg()[0]  # who else runs: the other helpers, tests, the stack
    plain_env = plain_environment(os.environ)
    # The plain side first: without it the secure stack's start would be for nothing.
    stack_command(plain_env, "status", *SERVICES, "randomuser",
                  which="the plain stack (`make up` starts it)")
    scratch = Path(tempfile.mkdtemp(prefix="userstream-bench-secure-"))
    secure_env = secure_environment(os.environ, scratch / "stack")
    envs = {"plain": plain_env, "secure": secure_env}
    runs: list[tuple[str, StageResult]] = []
    stopped = False
    try:
        stack_command(secure_env, "up", *SERVICES)
        from config.settings import load_settings

        tls_notes = negotiated(load_settings(secure_env))
        for number in range(config.rounds):
            for profile in PROFILES:
                log.info("==== round %d, %s", number + 1, profile)
                out = scratch / f"{number + 1}-{profile}.json"
                runs.append((profile, measure_in_child(envs[profile], profile, config, out)))
    finally:
        try:
            stack_command(secure_env, "down")
            stopped = True
        finally:
            if stopped:
                shutil.rmtree(scratch, ignore_errors=True)
            else:
                log.error("the secure stack in %s may still run: stop it with its "
                          "environment (STACK_PROFILE=secure STACK_HOME=%s and the ports %s) "
                          "`python -m stack down`", scratch, scratch / "stack",
                          " ".join(f"{k}={v}" for k, v in PORTS.items()))
    result = combine(runs, started_at)
    result.notes[:0] = tls_notes
    result.notes.append(f"the machine's load average (1 min): {load_at_start:.1f} at the start, "
                        f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores")
    result.seconds = time.monotonic() - started
    return result


def save_and_write_section(settings: Settings, result: StageResult) -> Path:
    """Keep the result beside the other stages' and put its section into
    docs/performance.md, every other line of the document left as it was."""
    from bench import results as store
    from bench.runner import DOC, results_dir
    from bench.security_report import section, splice

    store.save(result, results_dir(settings))
    lines = section(result, cores=os.cpu_count() or 0)
    DOC.write_text(splice(DOC.read_text() if DOC.exists() else "", lines))
    return DOC


# -- python -m bench.security measure ---------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """One run on the stack of this environment's settings (the child of ``run``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.security")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("measure", help="one run, its result written to --out")
    one.add_argument("--out", type=Path, required=True)
    defaults = SecurityConfig()
    for name in ("produce_records", "produce_repeats", "stream_records", "read_repeats",
                 "write_repeats"):
        one.add_argument(f"--{name.replace('_', '-')}", type=int,
                         default=getattr(defaults, name))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    with warnings.catch_warnings(record=True):  # authlib warns on import, as in bench.__main__
        import confluent_kafka.schema_registry  # noqa: F401
    from config.settings import load_settings

    config = SecurityConfig(produce_records=args.produce_records,
                            produce_repeats=args.produce_repeats,
                            stream_records=args.stream_records,
                            read_repeats=args.read_repeats, write_repeats=args.write_repeats)
    result = measure(load_settings(), config)
    args.out.write_text(result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
