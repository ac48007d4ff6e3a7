"""One frozen settings object, built from environment variables and validated at start.

Every host, port and credential of the pipeline is read here and nowhere else.
Defaults point at the native stack (``make up``). Secrets are wrapped in
:class:`Secret` so that they never show in ``repr``, logs or XCom.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from config.topology import TOPOLOGIES

PROJECT_ROOT = Path(__file__).resolve().parent.parent

KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
RANDOMUSER_SOURCES = ("auto", "live", "local")
# The levels a pipeline in one data centre may ask for (cassandra-driver's and the
# connector's names alike).
CASSANDRA_CONSISTENCY_LEVELS = ("ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM",
                                "LOCAL_ONE", "EACH_QUORUM")
# The services of the native stack that may run elsewhere (STACK_EXTERNAL). The stream
# (the supervised streaming job) is external only when named (or with "all"): it has no
# address, so it is then neither started nor probed here (compose runs it in a container).
# So is the console: CONSOLE_HOST is where it listens, not where a client finds it.
STACK_SERVICES = ("kafka", "cassandra", "registry", "randomuser", "airflow", "console", "stream")
# Listen addresses that mean "every interface": a browser on this machine uses loopback.
WILDCARD_HOSTS = ("0.0.0.0", "::")

# librdkafka's own log lines (e.g. "%3|...|FAIL|rdkafka#producer-2| ... Connection refused",
# repeated while a broker is starting or down) go through Python logging, never straight to
# stderr: a program that configures logging sees them, a probe or `make status` only shows
# its own one-line verdict. The NullHandler keeps Python's last-resort handler quiet.
LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")
LIBRDKAFKA_LOGGER.addHandler(logging.NullHandler())


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


class Secret:
    """A credential. Its value is only reachable through :meth:`reveal`.

    A plain class, not a dataclass, so that ``dataclasses.asdict(settings)``
    cannot unwrap it into plain text.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __deepcopy__(self, memo: dict) -> Secret:
        return self

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    """Every setting of the pipeline. Field ``foo_bar`` is read from ``FOO_BAR``."""

    # Kafka
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: Secret = Secret("")
    kafka_ssl_ca_location: str = ""
    # Schema Registry (Confluent API). The native stack serves it under Apicurio's
    # ccompat path; a Confluent Schema Registry serves it at the root.
    schema_registry_url: str = "http://localhost:8081/apis/ccompat/v7"
    schema_registry_basic_auth_user_info: Secret = Secret("")
    schema_registry_ssl_ca_location: str = ""
    # Cassandra
    cassandra_hosts: str = "127.0.0.1"
    cassandra_port: int = 9042
    cassandra_local_dc: str = "datacenter1"
    cassandra_username: str = ""
    cassandra_password: Secret = Secret("")
    cassandra_ssl_ca_location: str = ""
    # The consistency of the pipeline's writes (the connector, ops) and reads (reconcile,
    # status, the console). LOCAL_QUORUM: with 3 replicas, 2 must answer, so one node can be
    # down and nothing acknowledged is lost; on one node it is that node.
    cassandra_write_consistency: str = "LOCAL_QUORUM"
    cassandra_read_consistency: str = "LOCAL_QUORUM"
    # Source API: the live randomuser.me, or the randomuser-compatible server the
    # project ships (stack/randomuser, started by `make up`). RANDOMUSER_SOURCE picks:
    # live, local, or auto (live when it answers, otherwise local).
    randomuser_url: str = "https://randomuser.me/api/"
    randomuser_local_url: str = "http://127.0.0.1:8765/api/"
    randomuser_source: str = "auto"
    # Spark streaming job
    spark_master: str = "local[2]"
    # The job's connector jars (spark-sql-kafka, spark-avro, the Cassandra connector) as
    # local files, comma-separated, and a Java that Spark 3.5 runs on (8-17; empty: the
    # JAVA_HOME it inherits). The job never resolves them itself: `make stream`,
    # `make stream-up` and `make replay-dead-letters` fill both from the native stack
    # (python -m stack spark ...); a deployment of its own sets them.
    spark_jars: str = ""
    spark_java_home: str = ""
    # default: <STACK_HOME>/checkpoints (load_settings fills it from STACK_HOME)
    spark_checkpoint_dir: str = str(PROJECT_ROOT / ".stack" / "checkpoints")
    stream_trigger_seconds: int = 2  # p95 latency ~ trigger + one batch (docs/performance.md)
    stream_max_offsets_per_trigger: int = 100_000
    stream_batch_timeout_seconds: int = 300  # a batch taking longer is stuck: restart the job
    # Airflow (only used by tools that talk to the running Airflow). Credentials: empty for
    # the native stack (its generated password file is read); set for any other Airflow.
    airflow_url: str = "http://localhost:8080"
    airflow_username: str = ""
    airflow_password: Secret = Secret("")
    # What Airflow's tasks see differently from this shell, pushed instead of this shell's
    # values: space-separated NAME=value of pushed settings (config.airflow_settings), e.g.
    # "KAFKA_BOOTSTRAP_SERVERS=kafka:19092" for an Airflow inside a container network
    airflow_task_settings: str = ""
    # The console (python -m console; a service of `make up`): where it listens, loopback
    # unless said otherwise (it has no login), on Control Center's port. The admin token is
    # what any write action will require; no page writes anything yet.
    console_host: str = "127.0.0.1"
    console_port: int = 9021
    console_admin_token: Secret = Secret("")
    # Services of the stack run elsewhere: a comma list of STACK_SERVICES, or "all". A service
    # whose address is not loopback is external anyway. External ones are only probed.
    stack_external: str = ""
    # Ports of the native stack that no client setting names; moved for a second stack on
    # the same machine (Kafka's controller is its port + 1, the registry's management port
    # its port + 1000)
    stack_cassandra_storage_port: int = 7000
    stack_airflow_worker_log_port: int = 8793
    stack_airflow_trigger_log_port: int = 8794
    # Where the native stack keeps its data, logs and pids
    stack_home: str = str(PROJECT_ROOT / ".stack")
    # plain, or secure: every hop authenticated and encrypted (config/profile.py). The
    # secure profile fills the unset security settings with the stack's CA and the
    # credentials of STACK_ROLE: admin (this shell), producer (the DAG), stream (Spark).
    stack_profile: str = "plain"
    stack_role: str = "admin"
    # single (one process per service), or cluster: 3 Kafka brokers, Spark standalone with
    # 2 workers, 3 Cassandra nodes on this machine (config/topology.py)
    stack_topology: str = "single"
    # Where the contracts (<subject>.avsc + .toml) are: the DAG, the producer, the stream
    # and ops run every contract found here (docs/your-own-contract.md)
    contracts_dir: str = str(PROJECT_ROOT / "schemas")

    # -- derived views -------------------------------------------------------

    @property
    def console_url(self) -> str:
        """Where a browser on this machine opens the console."""
        host = self.console_host
        if host in WILDCARD_HOSTS:
            host = "localhost"
        elif ":" in host:  # an IPv6 address
            host = f"[{host}]"
        return f"http://{host}:{self.console_port}/"

    @property
    def cassandra_host_list(self) -> list[str]:
        return [h.strip() for h in self.cassandra_hosts.split(",") if h.strip()]

    def external_services(self) -> frozenset[str]:
        """The stack's services this checkout must not start: named, or not on loopback."""
        named = {n.strip() for n in self.stack_external.split(",") if n.strip()}
        if "all" in named:
            return frozenset(STACK_SERVICES)
        hosts = {
            "kafka": [server.strip().rpartition(":")[0]
                      for server in self.kafka_bootstrap_servers.split(",")],
            "cassandra": self.cassandra_host_list,
            "registry": [urlparse(self.schema_registry_url).hostname or ""],
            "randomuser": [urlparse(self.randomuser_local_url).hostname or ""],
            "airflow": [urlparse(self.airflow_url).hostname or ""],
        }
        remote = {name for name, names in hosts.items() if not all(map(is_loopback, names))}
        return frozenset(named | remote)

    def kafka_client_config(self) -> dict[str, Any]:
        """librdkafka configuration for security; merged into every client's config."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.kafka_bootstrap_servers,
            "security.protocol": self.kafka_security_protocol,
            "logger": LIBRDKAFKA_LOGGER,
        }
        if self.kafka_security_protocol.startswith("SASL"):
            conf["sasl.mechanism"] = self.kafka_sasl_mechanism
            conf["sasl.username"] = self.kafka_sasl_username
            conf["sasl.password"] = self.kafka_sasl_password.reveal()
        if self.kafka_ssl_ca_location:
            conf["ssl.ca.location"] = self.kafka_ssl_ca_location
        return conf

    def spark_kafka_options(self) -> dict[str, str]:
        """The same security settings, spelled for Spark's Kafka source (``kafka.`` prefix)."""
        opts = {
            "kafka.bootstrap.servers": self.kafka_bootstrap_servers,
            "kafka.security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol.startswith("SASL"):
            module = (
                "org.apache.kafka.common.security.plain.PlainLoginModule"
                if self.kafka_sasl_mechanism == "PLAIN"
                else "org.apache.kafka.common.security.scram.ScramLoginModule"
            )
            opts["kafka.sasl.mechanism"] = self.kafka_sasl_mechanism
            opts["kafka.sasl.jaas.config"] = (
                f'{module} required username="{self.kafka_sasl_username}" '
                f'password="{self.kafka_sasl_password.reveal()}";'
            )
        if self.kafka_ssl_ca_location:
            opts["kafka.ssl.truststore.type"] = "PEM"
            opts["kafka.ssl.truststore.location"] = self.kafka_ssl_ca_location
        return opts

    def schema_registry_config(self) -> dict[str, str]:
        """Configuration for confluent-kafka's ``SchemaRegistryClient``."""
        conf = {"url": self.schema_registry_url}
        if self.schema_registry_basic_auth_user_info:
            conf["basic.auth.user.info"] = self.schema_registry_basic_auth_user_info.reveal()
        if self.schema_registry_ssl_ca_location:
            conf["ssl.ca.location"] = self.schema_registry_ssl_ca_location
        return conf

    # -- validation ----------------------------------------------------------

    def validate(self) -> Settings:
        if not self.kafka_bootstrap_servers.strip():
            raise SettingsError("KAFKA_BOOTSTRAP_SERVERS is empty")
        for server in self.kafka_bootstrap_servers.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise SettingsError(
                    f"KAFKA_BOOTSTRAP_SERVERS: {server!r} is not host:port"
                )
        if self.kafka_security_protocol not in KAFKA_SECURITY_PROTOCOLS:
            raise SettingsError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol!r}; "
                f"expected one of {', '.join(KAFKA_SECURITY_PROTOCOLS)}"
            )
        if self.kafka_security_protocol.startswith("SASL"):
            if self.kafka_sasl_mechanism not in KAFKA_SASL_MECHANISMS:
                raise SettingsError(
                    f"KAFKA_SASL_MECHANISM={self.kafka_sasl_mechanism!r}; "
                    f"expected one of {', '.join(KAFKA_SASL_MECHANISMS)}"
                )
            for var, value in (("KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                               ("KAFKA_SASL_PASSWORD", self.kafka_sasl_password.reveal())):
                if '"' in value or "\\" in value:
                    # Spark's Kafka source takes them inside a quoted JAAS string.
                    raise SettingsError(f'{var} must not contain " or \\')
            if not self.kafka_sasl_username or not self.kafka_sasl_password:
                raise SettingsError(
                    "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required with "
                    f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}"
                )
        if self.randomuser_source not in RANDOMUSER_SOURCES:
            raise SettingsError(
                f"RANDOMUSER_SOURCE={self.randomuser_source!r}; "
                f"expected one of {', '.join(RANDOMUSER_SOURCES)}"
            )
        for name in ("schema_registry_url", "randomuser_url", "randomuser_local_url",
                     "airflow_url"):
            _check_http_url(name.upper(), getattr(self, name))
        auth = self.schema_registry_basic_auth_user_info.reveal()
        if auth and ":" not in auth:
            raise SettingsError("SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO must be user:password")
        if not self.cassandra_host_list:
            raise SettingsError("CASSANDRA_HOSTS is empty")
        if bool(self.cassandra_username) != bool(self.cassandra_password):
            raise SettingsError("CASSANDRA_USERNAME and CASSANDRA_PASSWORD go together")
        if bool(self.airflow_username) != bool(self.airflow_password):
            raise SettingsError("AIRFLOW_USERNAME and AIRFLOW_PASSWORD go together")
        if not self.console_host:
            raise SettingsError("CONSOLE_HOST is empty (127.0.0.1: loopback only)")
        if not 0 < self.console_port < 65536:
            raise SettingsError(f"CONSOLE_PORT must be 1-65535, got {self.console_port}")
        self._validate_profile()
        if self.stack_topology not in TOPOLOGIES:
            raise SettingsError(f"STACK_TOPOLOGY={self.stack_topology!r}; expected one of "
                                f"{', '.join(TOPOLOGIES)}")
        for name in ("cassandra_write_consistency", "cassandra_read_consistency"):
            if getattr(self, name) not in CASSANDRA_CONSISTENCY_LEVELS:
                raise SettingsError(f"{name.upper()}={getattr(self, name)!r}; expected one of "
                                    f"{', '.join(CASSANDRA_CONSISTENCY_LEVELS)}")
        named = {n.strip() for n in self.stack_external.split(",") if n.strip()}
        unknown = sorted(named - {"all", *STACK_SERVICES})
        if unknown:
            raise SettingsError(
                f"STACK_EXTERNAL: unknown service {', '.join(unknown)}; "
                f"expected a comma list of {', '.join(STACK_SERVICES)}, or all"
            )
        for name in ("cassandra_port", "stream_trigger_seconds", "stream_max_offsets_per_trigger",
                     "stream_batch_timeout_seconds", "stack_cassandra_storage_port",
                     "stack_airflow_worker_log_port", "stack_airflow_trigger_log_port"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name.upper()} must be positive")
        for name in ("kafka_ssl_ca_location", "schema_registry_ssl_ca_location",
                     "cassandra_ssl_ca_location"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise SettingsError(f"{name.upper()}={path!r}: no such file")
        return self

    def _validate_profile(self) -> None:
        from config.credentials import ROLES
        from config.profile import PROFILES

        if self.stack_profile not in PROFILES:
            raise SettingsError(f"STACK_PROFILE={self.stack_profile!r}; expected one of "
                                f"{', '.join(PROFILES)}")
        if self.stack_role not in ROLES:
            raise SettingsError(f"STACK_ROLE={self.stack_role!r}; expected one of "
                                f"{', '.join(ROLES)}")
        if self.stack_profile != "secure":
            return
        # Explicit settings win over the profile's defaults, but none may undo it.
        clear = []
        if self.kafka_security_protocol != "SASL_SSL":
            clear.append(f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}")
        if urlparse(self.schema_registry_url).scheme != "https":
            clear.append(f"SCHEMA_REGISTRY_URL={self.schema_registry_url}")
        if not self.schema_registry_basic_auth_user_info:
            clear.append("no SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO")
        if not self.cassandra_ssl_ca_location:
            clear.append("no CASSANDRA_SSL_CA_LOCATION")
        if clear:
            raise SettingsError("STACK_PROFILE=secure refuses what would go in the clear or "
                                f"unauthenticated: {'; '.join(clear)}")

    # -- presentation --------------------------------------------------------

    def as_env(self, *, show_secrets: bool = False) -> dict[str, str]:
        """The settings as environment variables; secrets masked unless asked for."""
        env = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                value = value.reveal() if show_secrets else ("***" if value else "")
            env[f.name.upper()] = str(value)
        return env


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (localhost, 127.0.0.0/8, ::1)."""
    host = host.strip().strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: another machine, as far as the stack can tell


def _check_http_url(var: str, url: str) -> None:
    parsed = urlparse(url)
    if parsed.username or parsed.password:
        # It would be printed wherever the URL is (status, logs): use the Secret settings.
        raise SettingsError(
            f"{var} must not carry credentials; use the *_USER_INFO / *_PASSWORD settings"
        )
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{var}={url!r} is not an http(s) URL")


def load_settings(environ: Mapping[str, str] | None = None, *,
                  check_profile: bool = True) -> Settings:
    """Build and validate the settings from ``environ`` (default: ``os.environ``).

    The profile (STACK_PROFILE) fills its defaults first; unless ``check_profile`` is
    false (``make clean``), a profile other than the one the stack's data was made with is
    refused (config/profile.py).
    """
    # Inner: config.profile reads the credentials, which are Secrets of this module.
    from config import topology
    from config.profile import ProfileMismatch, check_stamp, profile_environment
    from config.stamp import StampMismatch

    environ = os.environ if environ is None else environ
    home = Path(environ.get("STACK_HOME") or Settings.stack_home)
    try:
        if check_profile:
            check_stamp(home, environ.get("STACK_PROFILE") or "plain")
            topology.check_stamp(home, environ.get("STACK_TOPOLOGY") or "single")
        environ = profile_environment(topology.topology_environment(environ), home)
        if environ.get("STACK_HOME") and not environ.get("SPARK_CHECKPOINT_DIR"):
            # A stack of its own keeps its own checkpoints (one stack's offsets are not
            # another's), in the directory every Spark worker of this machine shares.
            environ = {**environ, "SPARK_CHECKPOINT_DIR": str(home / "checkpoints")}
    except (ProfileMismatch, StampMismatch) as exc:
        raise SettingsError(str(exc)) from None
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = environ.get(f.name.upper())
        if raw is None:
            continue
        default = f.default
        if isinstance(default, Secret):
            values[f.name] = Secret(raw)
        elif isinstance(default, int):
            try:
                values[f.name] = int(raw)
            except ValueError:
                raise SettingsError(f"{f.name.upper()}={raw!r} is not an integer") from None
        else:
            values[f.name] = raw.strip()
    return Settings(**values).validate()  # type: ignore[arg-type]


def main() -> None:
    """``make env``: print the settings as shell exports (secrets hidden)."""
    show = "--show-secrets" in sys.argv[1:]
    for key, value in load_settings().as_env(show_secrets=show).items():
        print(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
