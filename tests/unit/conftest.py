"""Unit-test fixtures: one local SparkSession for the whole session, no services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """local[2] Spark with the project's connector jars (spark-avro, Kafka, Cassandra).

    Built like the job's own session (streaming.session): the jars from
    ``stack.maven.spark_jars`` as ``spark.jars`` (already in ~/.m2: no ``--packages``, no
    network), the Avro read limits, UTC, UI off; only two shuffle partitions.
    """
    from config.settings import load_settings
    from streaming.session import build_spark_session

    session = build_spark_session(
        load_settings(),
        "userstream-unit-tests",
        master="local[2]",
        shuffle_partitions=2,
        extra={"spark.default.parallelism": "2", "spark.driver.host": "127.0.0.1"},
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
