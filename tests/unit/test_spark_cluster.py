"""The cluster topology's Spark standalone: the master's and workers' commands, ports and
probes, and the job's settings for a spark:// master. No process is started here."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings, load_settings
from stack.paths import StackPaths
from stack.services import Context, ServiceError, by_name
from stack.services.spark_cluster import (
    MASTER_CLASS,
    WORKER_CLASS,
    SparkMaster,
    SparkWorker,
    master_address,
    spark_class,
    spark_cluster,
)
from streaming.session import AVRO_READ_LIMITS, spark_conf, standalone_conf


def _settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"STACK_TOPOLOGY": "cluster", "STACK_HOME": str(tmp_path), **env})


def _ctx(settings: Settings) -> Context:
    return Context(settings, StackPaths.from_settings(settings))


def test_the_cluster_is_a_master_and_two_workers_with_their_own_names(tmp_path: Path) -> None:
    services = spark_cluster(_settings(tmp_path))
    assert [s.name for s in services] == ["spark-master", "spark-worker-1", "spark-worker-2"]
    assert isinstance(by_name("spark-worker-2", _settings(tmp_path)), SparkWorker)


def test_default_ports_keep_clear_of_airflow_and_the_registry(tmp_path: Path) -> None:
    ctx = _ctx(_settings(tmp_path))
    master, one, two = spark_cluster(ctx.settings)
    assert master_address(ctx.settings).url == "spark://127.0.0.1:7077"
    assert master_address(ctx.settings).webui_port == 8090  # 8080 is Airflow's
    assert [w.port(ctx) for w in (one, two)] == [7078, 7079]
    assert [w.webui_port(ctx) for w in (one, two)] == [8091, 8092]  # type: ignore[attr-defined]
    assert master.address(ctx) == "spark://127.0.0.1:7077 (ui :8090)"


def test_every_port_follows_spark_master(tmp_path: Path) -> None:
    ctx = _ctx(_settings(tmp_path, SPARK_MASTER="spark://127.0.0.1:17077"))
    master, one, two = spark_cluster(ctx.settings)
    assert master.port(ctx) == 17077
    assert master_address(ctx.settings).json_url == "http://127.0.0.1:18090/json/"
    assert [(w.port(ctx), w.webui_port(ctx)) for w in (one, two)] == [  # type: ignore[attr-defined]
        (17078, 18091), (17079, 18092)]


def test_master_command_is_the_wheels_spark_class_on_loopback(tmp_path: Path) -> None:
    ctx = _ctx(_settings(tmp_path, SPARK_MASTER="spark://127.0.0.1:17077"))
    command = SparkMaster().command(ctx)
    assert command.argv == [str(spark_class()), MASTER_CLASS, "--host", "127.0.0.1",
                            "--port", "17077", "--webui-port", "18090"]
    assert spark_class().is_file()  # the pip wheel ships it
    env = command.env
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"  # the web UI binds there too
    assert env["SPARK_CONF_DIR"] == str(tmp_path / "conf" / "spark")
    assert env["SPARK_LOG_DIR"] == str(tmp_path / "logs")
    assert env["SPARK_HOME"] == str(spark_class().parent.parent)
    assert Path(env["JAVA_HOME"], "bin", "java").exists()


def test_worker_offers_two_apps_room_and_a_work_dir_under_stack_home(tmp_path: Path) -> None:
    ctx = _ctx(_settings(tmp_path, SPARK_MASTER="spark://127.0.0.1:17077"))
    worker = SparkWorker(2)
    argv = worker.command(ctx).argv
    assert argv[:3] == [str(spark_class()), WORKER_CLASS, "spark://127.0.0.1:17077"]
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert options == {"--host": "127.0.0.1", "--port": "17079", "--webui-port": "18092",
                       "--cores": "2", "--memory": "2g",
                       "--work-dir": str(tmp_path / "data" / "spark-worker-2" / "work")}
    assert worker.command(ctx).env["SPARK_WORKER_DIR"] == str(tmp_path / "data" / "spark-worker-2")


def test_prepare_renders_the_log_configuration(tmp_path: Path) -> None:
    ctx = _ctx(_settings(tmp_path))
    SparkWorker(1).prepare(ctx)
    assert (tmp_path / "conf" / "spark" / "log4j2.properties").read_text().startswith("#")
    assert (tmp_path / "data" / "spark-worker-1" / "work").is_dir()


@pytest.mark.parametrize("master", ["local[2]", "spark://a:7077,b:7077", "yarn"])
def test_the_cluster_needs_one_standalone_master(tmp_path: Path, master: str) -> None:
    with pytest.raises(ServiceError, match="standalone"):
        master_address(_settings(tmp_path, SPARK_MASTER=master))


def test_a_worker_is_healthy_once_the_master_lists_it_alive(tmp_path: Path) -> None:
    ctx = _ctx(_settings(tmp_path))
    worker = SparkWorker(1)
    state: dict[str, object] = {"workers": [
        {"host": "127.0.0.1", "port": 7078, "state": "DEAD"},
        {"host": "127.0.0.1", "port": 7079, "state": "ALIVE"},
    ]}
    assert worker.registered(state, ctx) is None  # its old self is dead, the other is not it
    state["workers"].append({"host": "127.0.0.1", "port": 7078, "state": "ALIVE"})  # type: ignore[attr-defined]
    assert worker.registered(state, ctx) == {"host": "127.0.0.1", "port": 7078, "state": "ALIVE"}


def test_probes_say_why_when_no_master_answers(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens there.
    ctx = _ctx(_settings(tmp_path, SPARK_MASTER="spark://127.0.0.1:1"))
    assert "does not answer" in (SparkMaster().probe(ctx) or "")
    assert "does not answer" in (SparkWorker(1).probe(ctx) or "")


def test_a_standalone_master_gets_executors_sized_for_the_workers(tmp_path: Path) -> None:
    settings = _settings(tmp_path, SPARK_MASTER="spark://127.0.0.1:17077")
    conf = spark_conf(settings, jars=[Path("/m2/a.jar")])
    assert conf["spark.master"] == "spark://127.0.0.1:17077"
    assert conf["spark.executor.cores"] == "1"
    assert conf["spark.executor.memory"] == "768m"  # two fit a worker's --memory 2g
    assert conf["spark.cores.max"] == "2"  # one executor per worker: room for a 2nd app
    assert conf["spark.driver.host"] == "127.0.0.1"
    assert conf["spark.jars"] == "/m2/a.jar"  # the driver serves them to the executors
    for name in AVRO_READ_LIMITS:
        assert name in conf["spark.executor.extraJavaOptions"]


def test_local_and_remote_masters_keep_their_own_sizing(tmp_path: Path) -> None:
    assert standalone_conf("local[2]") == {}
    assert standalone_conf("spark://spark-master.example:7077") == {}
    assert standalone_conf("spark://localhost:7077")["spark.driver.host"] == "127.0.0.1"
    conf = spark_conf(load_settings({"STACK_HOME": str(tmp_path)}), jars=[Path("/m2/a.jar")])
    assert not {"spark.executor.cores", "spark.executor.memory", "spark.driver.host"} & set(conf)


def test_the_failover_reads_a_rerun_in_the_surviving_executors_log(tmp_path: Path) -> None:
    from chaos.scenarios.cluster_worker_kill import _reran_tasks

    stderr = tmp_path / "stderr"
    stderr.write_text("INFO Executor: Running task 0.0 in stage 4.0 (TID 9)\n")
    assert _reran_tasks(stderr) == 0
    stderr.write_text("INFO Executor: Running task 2.1 in stage 7.0 (TID 31)\n"
                      "INFO Executor: Running task 10.2 in stage 7.0 (TID 32)\n")
    assert _reran_tasks(stderr) == 2  # attempts 1 and 2: they ran before, elsewhere
    assert _reran_tasks(tmp_path / "absent") == 0
