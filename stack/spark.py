"""What the native stack hands the streaming job: its connector jars and a Java for Spark.

The job itself never resolves jars or looks for a JDK (it reads ``SPARK_JARS`` and
``SPARK_JAVA_HOME`` from its settings); the stack fills both from the local Maven cache and
the machine's JDKs, for the supervised stream, ``make stream`` and replay alike.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import Settings
from stack.java import find_java
from stack.maven import spark_jars
from stack.paths import StackPaths

if TYPE_CHECKING:
    from streaming.session import SparkRuntime

SPARK_JAVA_RANGE = (8, 17)  # Spark 3.5 runs on Java 8, 11 and 17


def spark_parts(paths: StackPaths) -> tuple[list[Path], Path]:
    """The jars from ~/.m2 (resolved once by Maven) and the first JDK Spark 3.5 runs on."""
    return spark_jars(paths), find_java("Spark 3.5", *SPARK_JAVA_RANGE).home


def spark_runtime(paths: StackPaths) -> SparkRuntime:
    """:func:`spark_parts` for a SparkSession built in this process (tests, benchmarks)."""
    from streaming.session import SparkRuntime  # inner: pyspark, 0.8 s that make status never needs

    return SparkRuntime.of(*spark_parts(paths))


def with_spark_runtime(settings: Settings) -> Settings:
    """``settings`` with the stack's :func:`spark_parts` (a job run in this process)."""
    jars, java_home = spark_parts(StackPaths.from_settings(settings))
    return replace(settings, spark_jars=",".join(str(j) for j in jars),
                   spark_java_home=str(java_home))


def spark_env(paths: StackPaths) -> dict[str, str]:
    """The settings that carry :func:`spark_parts` to a job started as a process."""
    jars, java_home = spark_parts(paths)
    return {"SPARK_JARS": ",".join(str(j) for j in jars), "SPARK_JAVA_HOME": str(java_home)}


def exec_spark_module(paths: StackPaths, args: Sequence[str]) -> None:
    """Replace this process with ``python -m <args>`` (a Spark program) given the runtime."""
    env = {**os.environ, **spark_env(paths)}
    os.execvpe(sys.executable, [sys.executable, "-m", *args], env)
