"""The SparkSession of the streaming job (and of its unit tests): local jars, no network.

Three things matter beyond the usual settings:

* the connector jars are local files handed in by the caller (:class:`SparkRuntime`, from
  the ``SPARK_JARS`` setting or, for tests and benchmarks, from the native stack): never
  ``--packages``, which would reach for Maven Central at every start;
* Avro's read limits are set as JVM system properties. Without them a corrupt payload
  whose length prefix decodes to, say, 2 GB makes Avro allocate that much: an
  ``OutOfMemoryError`` that PERMISSIVE mode cannot catch and that kills the executor,
  every time the batch is retried (a poison pill). With them Avro throws a
  ``SystemLimitException`` and the row is dead-lettered like any undecodable payload.
  Avro reads the properties once per JVM, so they must be there when the JVM starts:
  :func:`require_avro_limits` checks it;
* the Cassandra connector's connection settings, from :class:`Settings` only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlparse

from py4j.java_gateway import java_import
from pyspark.sql import SparkSession

from config.private_file import write_private
from config.settings import Settings

# No string or bytes field can be longer than the Kafka record that carries it (1 MiB by
# default); 16 MiB leaves room for raised broker limits and still fits any executor heap.
AVRO_READ_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "org.apache.avro.limits.string.maxLength": 16 * 1024 * 1024,
        "org.apache.avro.limits.bytes.maxLength": 16 * 1024 * 1024,
        "org.apache.avro.limits.collectionItems.maxLength": 1_000_000,
    }
)
# The truststore holds only the public CA certificate; its password guards nothing secret.
TRUSTSTORE_PASSWORD = "userstream-public-ca"


class SparkSetupError(RuntimeError):
    """The SparkSession cannot be built as the job needs it."""


@dataclass(frozen=True)
class SparkRuntime:
    """What the job's caller provides: the connector jars (local files) and a Java for Spark."""

    jars: tuple[Path, ...]
    java_home: Path | None = None  # None: the JAVA_HOME (or PATH) the process inherited

    @classmethod
    def of(cls, jars: Sequence[Path], java_home: Path | None = None) -> SparkRuntime:
        missing = [str(j) for j in jars if not Path(j).is_file()]
        if not jars or missing:
            raise SparkSetupError(
                "the Spark connector jars are missing"
                + (f": {', '.join(missing)}" if missing else "")
                + ". Run the job through `make stream` / `make stream-up` (they resolve the "
                "jars into the local Maven cache), or set SPARK_JARS to the local jar files."
            )
        return cls(tuple(Path(j) for j in jars), java_home)

    @classmethod
    def from_settings(cls, settings: Settings) -> SparkRuntime:
        jars = [Path(j.strip()) for j in settings.spark_jars.split(",") if j.strip()]
        return cls.of(jars, Path(settings.spark_java_home) if settings.spark_java_home else None)


def avro_limit_java_options() -> str:
    return " ".join(f"-D{name}={value}" for name, value in AVRO_READ_LIMITS.items())


# How the connector writes the table (spark.cassandra.output.*), measured by `make bench`
# (docs/performance.md, sink tunings).
SINK_WRITE_TUNING: dict[str, str] = {
    # 16 writes in flight per task, ~2x the rows/s of the connector's default of 5. 64 wrote
    # as fast once the tunings were timed in both orders (the first one timed used to lose
    # whatever it was): the fewer in flight, the less waits in Cassandra's queues.
    "spark.cassandra.output.concurrent.writes": "16",
    # Rows bound for the same replicas share an unlogged batch instead of one request per
    # user: ~1.5x the rows/s of the connector's defaults. 4 KiB as the connector counts
    # them: Cassandra counts a batch's mutation size, several times that with many small
    # columns, and refuses a batch above batch_size_fail_threshold (50 KiB by default):
    # 16 KiB did that in a test.
    "spark.cassandra.output.batch.grouping.key": "replica_set",
    "spark.cassandra.output.batch.size.bytes": "4096",
}


# Spark -> Cassandra over TLS. Read in the shipped jars (spark-cassandra-connector 3.5.1,
# DefaultConnectionFactory; its Java driver 4.18.1, DefaultSslEngineFactory): with the
# connector's own spark.cassandra.connection.ssl.* settings the driver's
# advanced.ssl-engine-factory.hostname-validation is set to false, hard-coded, so any
# certificate the CA signed would do for any host; and the suites offered default to
# TLS_RSA_WITH_AES_128_CBC_SHA and TLS_RSA_WITH_AES_256_CBC_SHA (static RSA key exchange, CBC,
# SHA-1: no forward secrecy, and none an EC certificate can serve). The one way the jar gives
# to verify the server is a driver configuration file, spark.cassandra.connection.config.
# profile.path; with it the connector ignores every programmatic setting (contact points,
# credentials, timeouts, policies: "Ignoring all programmatic configuration"), so the file
# (:func:`driver_profile`) holds all of them, the connector's defaults included.
DRIVER_PROFILE_PATH = "spark.cassandra.connection.config.profile.path"
# TLS 1.3's suites, then TLS 1.2's ECDHE-ECDSA AEAD ones (the stack's certificates are EC);
# JSSE names, offered in this order.
CASSANDRA_CIPHER_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
)
# What DefaultConnectionFactory sets programmatically, at the connector's defaults
# (spark.cassandra.connection.timeoutMS, read.timeoutMS, query.retry.count,
# connection.reconnectionDelayMS.min/max): the file must say them again.
CONNECTOR_DRIVER_DEFAULTS: Mapping[str, object] = MappingProxyType({
    "basic.request.timeout": "120 seconds",
    "advanced.connection.init-query-timeout": "5 seconds",
    "advanced.control-connection.timeout": "5 seconds",
    "advanced.metadata.schema.request-timeout": "120 seconds",
    "advanced.retry-policy.class": "com.datastax.spark.connector.cql.MultipleRetryPolicy",
    "advanced.retry-policy.max-retry-count": 60,
    "advanced.reconnection-policy.class": "ExponentialReconnectionPolicy",
    "advanced.reconnection-policy.base-delay": "1 second",
    "advanced.reconnection-policy.max-delay": "60 seconds",
    # Driver threads must not keep an executor's JVM alive.
    "advanced.netty.daemon": True,
})
PRIVATE_DIR_MODE = 0o700


CASSANDRA_PREFIX = "spark.cassandra."  # the connector's settings


def cassandra_spark_conf(settings: Settings) -> dict[str, str]:
    """spark-cassandra-connector's connection settings (``spark.cassandra.*``).

    Over TLS (CASSANDRA_SSL_CA_LOCATION set: the secure profile) the connection is the
    driver profile file's (:func:`write_driver_profile`): the password is in that file
    (0600), not in Spark's configuration.
    """
    conf = {
        "spark.cassandra.connection.host": ",".join(settings.cassandra_host_list),
        "spark.cassandra.connection.port": str(settings.cassandra_port),
        "spark.cassandra.connection.localDC": settings.cassandra_local_dc,
        # Set on each statement by the connector (WriteConf, ReadConf), so they also hold
        # with a driver profile file. LOCAL_QUORUM: 2 of the cluster's 3 replicas (one node
        # may be down); the connector's own read default is LOCAL_ONE.
        "spark.cassandra.output.consistency.level": settings.cassandra_write_consistency,
        "spark.cassandra.input.consistency.level": settings.cassandra_read_consistency,
        **SINK_WRITE_TUNING,
    }
    if settings.cassandra_ssl_ca_location:
        # A URL: the connector takes a plain path only as the name of a file of spark.files.
        conf[DRIVER_PROFILE_PATH] = write_driver_profile(settings).as_uri()
        return conf
    if settings.cassandra_username:
        conf["spark.cassandra.auth.username"] = settings.cassandra_username
        # Spark redacts conf keys matching "password" in its UI and logs.
        conf["spark.cassandra.auth.password"] = settings.cassandra_password.reveal()
    return conf


def driver_profile(settings: Settings, truststore: Path, *,
                   hosts: Sequence[str] | None = None) -> dict[str, object]:
    """The Java driver's configuration (HOCON; JSON is HOCON) for the connector over TLS.

    The server is verified: its chain against the CA only (``truststore``) and its name
    against the host connected to (hostname-validation; the driver 4.18.1 checks the name
    ``InetSocketAddress.getHostName`` gives: a contact point's name as given, an IP's reverse
    lookup, e.g. 127.0.0.1 -> localhost, both in the stack's SANs). ``hosts`` replaces the
    settings' hosts (a test connects by a name the certificate lacks). The file is local:
    an executor on another machine would need it shipped (spark.files), as any keytab.
    """
    options: dict[str, object] = {
        "basic.contact-points": [f"{host}:{settings.cassandra_port}"
                                 for host in (hosts or settings.cassandra_host_list)],
        "basic.load-balancing-policy.local-datacenter": settings.cassandra_local_dc,
        # What a statement the connector does not set runs at (its reads and writes carry
        # spark.cassandra.input/output.consistency.level).
        "basic.request.consistency": settings.cassandra_read_consistency,
        **CONNECTOR_DRIVER_DEFAULTS,
        "advanced.ssl-engine-factory.class": "DefaultSslEngineFactory",
        "advanced.ssl-engine-factory.hostname-validation": True,
        "advanced.ssl-engine-factory.truststore-path": str(truststore),
        "advanced.ssl-engine-factory.truststore-password": TRUSTSTORE_PASSWORD,
        "advanced.ssl-engine-factory.cipher-suites": list(CASSANDRA_CIPHER_SUITES),
    }
    if settings.cassandra_username:
        options.update({
            "advanced.auth-provider.class": "PlainTextAuthProvider",
            "advanced.auth-provider.username": settings.cassandra_username,
            "advanced.auth-provider.password": settings.cassandra_password.reveal(),
        })
    profile: dict[str, object] = {}
    for dotted, value in options.items():
        node = profile
        *parents, leaf = dotted.split(".")
        for name in parents:
            node = node.setdefault(name, {})  # type: ignore[assignment]
        node[leaf] = value
    return {"datastax-java-driver": profile}


def write_driver_profile(settings: Settings, *, hosts: Sequence[str] | None = None,
                         target: Path | None = None) -> Path:
    """:func:`driver_profile` written to ``<STACK_HOME>/spark/cassandra-<user>.conf``.

    It may hold a password: written 0600 in a 0700 directory, atomically (a running job
    never reads half a file), and rewritten at each start (the password may have changed).
    """
    spark_dir = Path(settings.stack_home) / "spark"
    truststore = pem_truststore(Path(settings.cassandra_ssl_ca_location),
                                spark_dir / "cassandra-truststore.p12")
    target = target or spark_dir / f"cassandra-{settings.cassandra_username or 'anonymous'}.conf"
    text = json.dumps(driver_profile(settings, truststore, hosts=hosts), indent=1)
    target.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    target.parent.chmod(PRIVATE_DIR_MODE)
    return write_private(target, text + "\n")


def pem_truststore(ca_pem: Path, store: Path) -> Path:
    """A PKCS12 truststore holding ``ca_pem``: the connector (Java) cannot read PEM."""
    if store.exists() and store.stat().st_mtime >= ca_pem.stat().st_mtime:
        return store
    java_home = os.environ.get("JAVA_HOME")
    keytool = Path(java_home or "/nonexistent") / "bin" / "keytool"
    if not keytool.exists():
        found = shutil.which("keytool")
        if found is None:
            raise SparkSetupError("keytool not found: cannot build the Cassandra truststore")
        keytool = Path(found)
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    result = subprocess.run(
        [
            str(keytool), "-importcert", "-noprompt", "-alias", "cassandra-ca",
            "-file", str(ca_pem), "-keystore", str(partial), "-storetype", "PKCS12",
            "-storepass", TRUSTSTORE_PASSWORD,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SparkSetupError(
            f"keytool could not import {ca_pem} (CASSANDRA_SSL_CA_LOCATION): "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    partial.replace(store)
    return store


# The executors of the stack's own standalone cluster (a spark:// master on loopback:
# stack/services/spark_cluster.py, 2 workers offering 2 cores and 2 GiB each): one executor
# of 1 core on each worker (the master spreads an application's cores over the workers),
# so that a second application (replay, a chaos scenario's job) finds room beside the
# stream. Spark's default executor heap, 1g, would not fit the cluster's 14 GiB budget.
# A master elsewhere is someone's cluster: its own defaults size the executors.
LOOPBACK_STANDALONE: Mapping[str, str] = MappingProxyType({
    "spark.executor.cores": "1",
    "spark.executor.memory": "768m",
    "spark.cores.max": "2",
    # The executors reach the driver (its RPC and the file server of spark.jars) here.
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
})
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def standalone_conf(master: str) -> dict[str, str]:
    """What the stack's standalone master (``spark://`` on loopback) needs beyond
    ``local[N]``; {} for any other master.

    The executors are other JVMs: they fetch ``spark.jars`` from the driver's file server
    and get the Avro limits from ``spark.executor.extraJavaOptions``; both are in
    :func:`spark_conf` for every master.
    """
    if master.startswith("spark://") and urlparse(master).hostname in LOOPBACK_HOSTS:
        return dict(LOOPBACK_STANDALONE)
    return {}


def spark_conf(
    settings: Settings,
    *,
    jars: list[Path],
    master: str | None = None,
    shuffle_partitions: int = 4,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every Spark setting of the job, as one dict (easy to test and to log)."""
    java_options = avro_limit_java_options()
    master = master or settings.spark_master
    conf = {
        "spark.master": master,
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.driver.extraJavaOptions": java_options,
        "spark.executor.extraJavaOptions": java_options,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",  # progress bars would garble the JSON log
        # The Kafka source's kafka.sasl.jaas.config holds the SASL password, and no default
        # pattern matches it: plans, errors and the environment page would show it.
        "spark.redaction.regex": "(?i)secret|password|token|access[.]key|jaas",
        "spark.sql.redaction.options.regex": "(?i)url|secret|password|token|jaas",
        **cassandra_spark_conf(settings),
        **standalone_conf(master),
    }
    conf.update(extra or {})
    return conf


def build_spark_session(
    settings: Settings,
    app_name: str = "userstream-streaming",
    *,
    runtime: SparkRuntime | None = None,
    master: str | None = None,
    shuffle_partitions: int = 4,
    extra: Mapping[str, str] | None = None,
) -> SparkSession:
    """Start (or join) the SparkSession with ``runtime``'s jars (default: from settings)."""
    runtime = runtime or SparkRuntime.from_settings(settings)
    if runtime.java_home is not None:
        os.environ["JAVA_HOME"] = str(runtime.java_home)  # read by pyspark's JVM launcher
    conf = spark_conf(
        settings,
        jars=list(runtime.jars),
        master=master,
        shuffle_partitions=shuffle_partitions,
        extra=extra,
    )
    # A session that says which options its driver JVM starts with keeps them (a variant
    # measured without class data sharing, bench/e2e.py's cold start).
    if "spark.driver.extraJavaOptions" not in (extra or {}):
        sharing = class_data_sharing_options(Path(settings.stack_home) / CDS_DIR, runtime)
        conf["spark.driver.extraJavaOptions"] += f" {sharing}"
    refuse_foreign_context(conf)
    forget_inherited_connector_settings(conf)
    builder = SparkSession.builder.appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # Every F.* call looks up org.apache.spark.sql.functions by its short name; imported
    # by name, the JVM finds it at once instead of after a failed class look-up in each
    # of PySpark's package imports (that search was ~40% of an expression's cost).
    java_import(spark._jvm, "org.apache.spark.sql.functions")
    require_avro_limits(spark)
    return spark


def refuse_foreign_context(conf: Mapping[str, str]) -> None:
    """:class:`SparkSetupError` when this process runs a SparkContext with connector
    settings (``spark.cassandra.*``) that ``conf`` does not set.

    ``getOrCreate`` joins a live context: the session's own settings override the
    context's, but a setting the session leaves out (a TLS driver profile, a password)
    would still come from the context, built for another cluster. Only the names are
    said: the values can be secrets.
    """
    from pyspark import SparkContext

    active = SparkContext._active_spark_context
    if active is None:
        return
    foreign = sorted(key for key, _ in active.getConf().getAll()
                     if key.startswith(CASSANDRA_PREFIX) and key not in conf)
    if foreign:
        raise SparkSetupError(
            f"this process already runs a SparkContext ({active.appName}) with connector "
            f"settings this session does not set: {', '.join(foreign)}. Joined, the session "
            "would use them (another cluster's client); stop that context first"
        )


def forget_inherited_connector_settings(conf: Mapping[str, str]) -> None:
    """Clear the connector settings (``spark.cassandra.*``) that ``conf`` does not set
    from the JVM's system properties, if this process has a JVM already.

    pyspark starts one JVM per process through spark-submit, which makes the first
    session's settings Java system properties, and every later SparkConf starts from them.
    An optional setting a later session leaves out (a TLS driver profile, a password)
    would then be inherited from the first: its session would talk to the first one's
    cluster, as another cluster's client (seen with a test's TLS node before a job).
    """
    from pyspark import SparkContext

    jvm = SparkContext._jvm
    if jvm is None:
        return
    system = jvm.java.lang.System
    for key in list(system.getProperties().stringPropertyNames()):
        if key.startswith(CASSANDRA_PREFIX) and key not in conf:
            system.clearProperty(key)


# Class data sharing for the driver JVM (Java 17's dynamic archive): the first start writes
# the classes it loaded (Spark's, Scala's, the JDK's: ~20,000) into an archive as the JVM
# exits; every later start maps them instead of reading, verifying and parsing each class
# from its jar. The archive belongs to one JVM build and one class path: its name is a hash
# of both, so a new JDK or new jars start a new one. A JVM refuses an archive that does not
# match it and starts as it would without one.
CDS_DIR = "spark/cds"  # under STACK_HOME
ARCHIVE_SETTLE_S = 5.0  # a partial archive untouched this long is finished
CDS_DYNAMIC_MAGIC = (0xF00BABA8).to_bytes(4, "little")  # HotSpot's, little-endian x86/arm


def cds_archive_key(runtime: SparkRuntime, java: Path | None) -> str:
    """What an archive belongs to: the JVM (its library, by path, size and time) and the
    class path (pyspark's jars, by version, and the connector jars)."""
    import pyspark  # inner: already imported by this module's pyspark.sql

    parts = [pyspark.__version__, *(str(j) for j in runtime.jars)]
    if java is not None:
        libjvm = java.parent.parent / "lib" / "server" / "libjvm.so"
        stat = libjvm.stat() if libjvm.is_file() else None
        parts += [str(libjvm), str(stat.st_size if stat else 0),
                  str(stat.st_mtime_ns if stat else 0)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def class_data_sharing_options(directory: Path, runtime: SparkRuntime) -> str:
    """``-XX:SharedArchiveFile`` once an archive exists, else ``-XX:ArchiveClassesAtExit``
    to a file of this process's own (two first starts at once write two files); a finished
    file (its writer gone) becomes the archive at the next start."""
    java_bin = (runtime.java_home / "bin" / "java") if runtime.java_home else None
    found = shutil.which("java") if java_bin is None else str(java_bin)
    java = Path(found).resolve() if found else None
    archive = directory / f"driver-{cds_archive_key(runtime, java)}.jsa"
    quiet = "-Xlog:cds=off -Xlog:cds+dynamic=off"  # a refused archive is no error of ours
    try:
        _tidy_archives(archive)
        if archive.is_file():
            return f"-XX:SharedArchiveFile={archive} {quiet}"
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return ""  # STACK_HOME not writable here: the JVM starts as it would without it
    return f"-XX:ArchiveClassesAtExit={archive}.{os.getpid()}.partial {quiet}"


def _tidy_archives(archive: Path) -> None:
    """A finished partial file becomes ``archive`` when there is none; other finished ones
    go, and so do the archives of other JVMs or class paths (~160 MB each)."""
    for partial in sorted(archive.parent.glob(f"{archive.name}.*.partial")):
        writer = partial.name.removeprefix(f"{archive.name}.").removesuffix(".partial")
        if writer.isdigit() and _alive(int(writer)):
            continue  # its JVM still runs: the file is written as it exits
        if time.time() - partial.stat().st_mtime < ARCHIVE_SETTLE_S:
            continue  # its JVM may still be writing, its Python gone
        if not archive.is_file() and _is_dynamic_archive(partial):
            partial.replace(archive)
            for other in archive.parent.glob("driver-*.jsa"):
                if other != archive:
                    other.unlink(missing_ok=True)
        else:
            partial.unlink(missing_ok=True)  # a spare, or cut short (its JVM killed)


def _is_dynamic_archive(path: Path) -> bool:
    """A whole dynamic archive: the JVM writes its header, magic first, after the rest."""
    with path.open("rb") as file:
        return file.read(4) == CDS_DYNAMIC_MAGIC


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def require_avro_limits(spark: SparkSession) -> None:
    """Fail fast if the driver JVM started without :data:`AVRO_READ_LIMITS`.

    That happens when a SparkSession already existed (``getOrCreate`` joins it) or the JVM
    was launched elsewhere; the executors of a local master share the driver's JVM.
    """
    system = spark.sparkContext._jvm.java.lang.System  # type: ignore[union-attr]
    missing = [name for name in AVRO_READ_LIMITS if system.getProperty(name) is None]
    if missing:
        raise SparkSetupError(
            f"the Spark JVM started without the Avro read limits {missing}: a corrupt "
            "payload could exhaust its heap. Start it through streaming.session."
            "build_spark_session (spark.driver.extraJavaOptions)."
        )
