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
