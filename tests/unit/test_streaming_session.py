"""The job's Spark settings: local jars, Avro read limits, Cassandra from Settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from config.settings import load_settings
from streaming.session import (
    AVRO_READ_LIMITS,
    cassandra_spark_conf,
    require_avro_limits,
    spark_conf,
)


def test_spark_conf_uses_local_jars_and_sets_the_avro_limits() -> None:
    conf = spark_conf(load_settings({}), jars=[Path("/m2/a.jar"), Path("/m2/b.jar")])
    assert conf["spark.jars"] == "/m2/a.jar,/m2/b.jar"
    assert "spark.jars.packages" not in conf
    for name, value in AVRO_READ_LIMITS.items():
        assert f"-D{name}={value}" in conf["spark.driver.extraJavaOptions"]
        assert f"-D{name}={value}" in conf["spark.executor.extraJavaOptions"]
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.master"] == "local[2]"


def test_cassandra_conf_comes_from_settings() -> None:
    settings = load_settings(
        {
            "CASSANDRA_HOSTS": "10.0.0.1, 10.0.0.2",
            "CASSANDRA_PORT": "9142",
            "CASSANDRA_LOCAL_DC": "dc2",
            "CASSANDRA_USERNAME": "app",
            "CASSANDRA_PASSWORD": "s3cret",
        }
    )
    conf = cassandra_spark_conf(settings)
    assert conf == {
        "spark.cassandra.connection.host": "10.0.0.1,10.0.0.2",
        "spark.cassandra.connection.port": "9142",
        "spark.cassandra.connection.localDC": "dc2",
        "spark.cassandra.output.consistency.level": "LOCAL_QUORUM",
        "spark.cassandra.input.consistency.level": "LOCAL_QUORUM",
        "spark.cassandra.output.concurrent.writes": "16",
        "spark.cassandra.output.batch.grouping.key": "replica_set",
        "spark.cassandra.output.batch.size.bytes": "4096",
        "spark.cassandra.auth.username": "app",
        "spark.cassandra.auth.password": "s3cret",
    }
    assert "spark.cassandra.auth.username" not in cassandra_spark_conf(load_settings({}))


def test_the_test_session_runs_with_the_avro_limits(spark: SparkSession) -> None:
    require_avro_limits(spark)  # raises SparkSetupError when the JVM started without them


@pytest.mark.parametrize("name", sorted(AVRO_READ_LIMITS))
def test_limits_are_avro_property_names(name: str) -> None:
    assert name.startswith("org.apache.avro.limits.")


def test_class_data_sharing_writes_an_archive_first_then_uses_it(tmp_path: Path) -> None:
    import os
    import time

    from streaming.session import CDS_DYNAMIC_MAGIC, SparkRuntime, class_data_sharing_options

    jar = tmp_path / "a.jar"
    jar.write_bytes(b"jar")
    runtime = SparkRuntime.of([jar])
    first = class_data_sharing_options(tmp_path / "cds", runtime)
    assert "-XX:ArchiveClassesAtExit=" in first and "SharedArchiveFile" not in first
    partial = Path(first.split("-XX:ArchiveClassesAtExit=")[1].split()[0])
    assert partial.name.endswith(f".{os.getpid()}.partial")
    partial.write_bytes(CDS_DYNAMIC_MAGIC + b"archive")
    # Its writer (this process) still runs: not yet the archive.
    assert "ArchiveClassesAtExit" in class_data_sharing_options(tmp_path / "cds", runtime)
    gone = partial.with_name(partial.name.replace(f".{os.getpid()}.", ".2000000001."))
    partial.rename(gone)
    old = time.time() - 3600
    os.utime(gone, (old, old))
    spare = gone.with_name(gone.name.replace(".2000000001.", ".2000000002."))
    spare.write_bytes(CDS_DYNAMIC_MAGIC)
    os.utime(spare, (old, old))
    stale = tmp_path / "cds" / "driver-0000000000000000.jsa"  # another JVM's
    stale.write_bytes(b"old")
    used = class_data_sharing_options(tmp_path / "cds", runtime)
    archive = Path(used.split("-XX:SharedArchiveFile=")[1].split()[0])
    assert not spare.exists() and not stale.exists()
    assert archive.read_bytes() == CDS_DYNAMIC_MAGIC + b"archive" and not gone.exists()


def test_an_archive_cut_short_is_removed_not_used(tmp_path: Path) -> None:
    import os
    import time

    from streaming.session import SparkRuntime, class_data_sharing_options

    jar = tmp_path / "a.jar"
    jar.write_bytes(b"jar")
    runtime = SparkRuntime.of([jar])
    first = class_data_sharing_options(tmp_path / "cds", runtime)
    partial = Path(first.split("-XX:ArchiveClassesAtExit=")[1].split()[0])
    cut = partial.with_name(partial.name.replace(f".{os.getpid()}.", ".2000000001."))
    cut.write_bytes(b"\0" * 64)  # the JVM killed before it wrote the header
    old = time.time() - 3600
    os.utime(cut, (old, old))
    assert "ArchiveClassesAtExit" in class_data_sharing_options(tmp_path / "cds", runtime)
    assert not cut.exists()


def test_new_jars_start_a_new_archive(tmp_path: Path) -> None:
    from streaming.session import SparkRuntime, cds_archive_key

    a, b = tmp_path / "a.jar", tmp_path / "b.jar"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    assert cds_archive_key(SparkRuntime.of([a]), None) != \
        cds_archive_key(SparkRuntime.of([a, b]), None)


def test_no_class_data_sharing_where_the_archive_cannot_be_written(tmp_path: Path) -> None:
    from streaming.session import SparkRuntime, class_data_sharing_options

    jar = tmp_path / "a.jar"
    jar.write_bytes(b"jar")
    (tmp_path / "file").write_text("not a directory")
    assert class_data_sharing_options(tmp_path / "file" / "cds", SparkRuntime.of([jar])) == ""


def test_connector_settings_an_earlier_session_launched_the_jvm_with_are_forgotten(
    spark: SparkSession,
) -> None:
    """pyspark's JVM keeps the first session's settings as system properties: a TLS
    profile left there would send a later session's connector to another cluster."""
    from streaming.session import DRIVER_PROFILE_PATH, forget_inherited_connector_settings

    system = spark.sparkContext._jvm.java.lang.System  # type: ignore[union-attr]
    system.setProperty(DRIVER_PROFILE_PATH, "file:///elsewhere/profile.conf")
    system.setProperty("spark.cassandra.connection.port", "19042")
    system.setProperty("spark.not.the.connector", "kept")
    try:
        forget_inherited_connector_settings({"spark.cassandra.connection.port": "9042"})
        assert system.getProperty(DRIVER_PROFILE_PATH) is None
        assert system.getProperty("spark.cassandra.connection.port") == "19042"  # set anew
        assert system.getProperty("spark.not.the.connector") == "kept"
    finally:
        for key in (DRIVER_PROFILE_PATH, "spark.cassandra.connection.port",
                    "spark.not.the.connector"):
            system.clearProperty(key)


def test_a_live_context_with_connector_settings_this_session_lacks_is_not_joined(
    spark: SparkSession,
) -> None:
    """getOrCreate would join it, and the settings left out would come from it."""
    from streaming.session import SparkSetupError, refuse_foreign_context

    live = dict(spark.sparkContext.getConf().getAll())
    connector = {k: v for k, v in live.items() if k.startswith("spark.cassandra.")}
    assert connector, "the unit session sets the connector's host"
    refuse_foreign_context(connector)  # the same settings: joined
    kept = dict(list(connector.items())[1:])
    with pytest.raises(SparkSetupError, match=list(connector)[0]) as refused:
        refuse_foreign_context(kept)
    assert all(v not in str(refused.value) for v in connector.values() if len(v) > 3)
