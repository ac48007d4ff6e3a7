"""``python -m bench``: the performance benchmarks (issue "Performance").

    python -m bench produce   [--records N]      # make bench-produce
    python -m bench stream    [--records N]      # make bench-stream
    python -m bench cassandra [--seconds S]      # the Cassandra write limit
    python -m bench e2e       [--seconds S] [--rate R]
    python -m bench cold-start [--rounds N]      # the job's cold start, with/without CDS
    python -m bench all                          # make bench: every stage, then the report
    python -m bench security  [--rounds N]       # make bench-secure: plain vs secure profile
    python -m bench cluster   [--rounds N] [--add] [--report]
                                                 # make bench-cluster: 1 vs 2 workers, 3 vs 6
                                                 # partitions on the cluster topology
    python -m bench report                       # re-render docs/performance.md from results
    python -m bench tools                        # build latte (the Cassandra load) if missing

Needs the stack up (``make up``). Each stage works in a sandbox topic, subject and keyspace
of its own and removes them. ``BENCH_E2E_SECONDS`` (default 300) and ``BENCH_E2E_RATE``
(records/s offered, default 0 = unpaced) set the end-to-end load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace


def _env_float(name: str) -> float | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"error: {name}={value!r} is not a number") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description="Benchmarks of the pipeline, beside their limits.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("produce", "fetch, map, serialize, produce vs ProducerPerformance"),
                       ("stream", "Spark read, decode, sink vs ConsumerPerformance and a UDF")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--records", type=int, help="records to measure with")
    durability = commands.add_parser(
        "durability", help="connector writes under each commitlog_sync mode (restarts Cassandra)")
    durability.add_argument("--records", type=int, help="rows written per mode")
    cassandra = commands.add_parser("cassandra", help="independent Cassandra write load (latte)")
    cassandra.add_argument("--seconds", type=float, help="load duration (default 30)")
    e2e = commands.add_parser("e2e", help="sustained load through the whole pipeline")
    e2e.add_argument("--seconds", type=float, default=_env_float("BENCH_E2E_SECONDS"),
                     help="load duration (BENCH_E2E_SECONDS, default 300)")
    e2e.add_argument("--rate", type=float, default=_env_float("BENCH_E2E_RATE"),
                     help="records/s offered (BENCH_E2E_RATE, default 0 = unpaced)")
    security = commands.add_parser(
        "security", help="the cost of TLS and SASL: the same runs on the plain stack and on "
        "a secure one of its own, interleaved; writes its section of docs/performance.md")
    security.add_argument("--rounds", type=int, default=2, help="plain+secure runs (default 2)")
    cluster = commands.add_parser(
        "cluster", help="the scaling figure on the cluster topology: end to end with 1 vs 2 "
        "Spark workers and 3 vs 6 partitions, interleaved; writes its section of "
        "docs/performance.md")
    cluster.add_argument("--rounds", type=int, default=2, help="runs of each variant (default 2)")
    cluster.add_argument("--add", action="store_true",
                         help="keep the saved runs and add these rounds to them")
    cluster.add_argument("--seconds", type=float, default=30.0,
                         help="load of each run, after its warm-up (default 30)")
    cluster.add_argument("--report", action="store_true",
                         help="no runs: write the section from the saved result")
    cluster.add_argument("--reconcile", action="store_true",
                         help="read every record back from Cassandra (doubles a run)")
    cold = commands.add_parser(
        "cold-start", help="launch -> first stored row of the job, with and without class "
        "data sharing for its driver JVM, interleaved")
    cold.add_argument("--rounds", type=int, default=3, help="runs of each (default 3)")
    commands.add_parser("all", help="every stage, then docs/performance.md and its plots")
    commands.add_parser("report", help="render docs/performance.md from the saved results")
    commands.add_parser("tools", help="obtain latte, the independent Cassandra write load "
                        "(built once from crates.io into ~/.cache/userstream/bench-tools)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    # Inner, all four: the first import of the registry client must be inside the catch
    # (authlib warns on import), and --help takes 0.04 s instead of 1.1 s.
    with warnings.catch_warnings(record=True):
        import confluent_kafka.schema_registry  # noqa: F401
    from bench import runner
    from bench.machine import describe
    from config.settings import load_settings

    settings = load_settings()
    if args.command == "tools":
        from pathlib import Path

        from bench.cassandra_limit import LimitError, latte_version, obtain_latte

        try:
            latte = obtain_latte(Path(settings.stack_home))
        except LimitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"{latte_version(latte)}: {latte}")
        return 0
    if args.command in runner.STAGES:
        options = runner.StageOptions(records=getattr(args, "records", None),
                                      seconds=getattr(args, "seconds", None),
                                      rate=getattr(args, "rate", None))
        result = runner.run_stage(settings, args.command, options)
        for figure in result.figures:
            print(f"{figure.label:<75} {figure.value:>12,.0f} {figure.unit}")
        return 0
    if args.command == "security":
        from bench import security as secure_bench

        try:
            result = secure_bench.run(settings, secure_bench.SecurityConfig(rounds=args.rounds))
        except secure_bench.SecurityBenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {secure_bench.save_and_write_section(settings, result)}")
        return 0
    if args.command == "cold-start":
        for name, runs in runner.cold_start_compare(settings, args.rounds).items():
            print(f"{name:<32} first row " + ", ".join(f"{r.first_row_s:.1f}" for r in runs)
                  + " s; query started " + ", ".join(f"{r.started_s:.1f}" for r in runs)
                  + " s; first batch " + ", ".join(f"{r.first_batch_ms / 1000:.1f}"
                                                   for r in runs) + " s")
        return 0
    if args.command == "cluster":
        from bench import cluster as scaling
        from bench import results as store
        from config.settings import Settings

        config = scaling.ClusterConfig(rounds=args.rounds, add=args.add, load_s=args.seconds,
                                       reconcile=args.reconcile)
        try:
            result = (store.load(runner.results_dir(settings), scaling.STAGE) if args.report
                      else scaling.run(settings, config, runner.results_dir(settings),
                                       runner.work_dir(settings)))
        except (scaling.ClusterBenchError, store.ResultError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        # The single topology's results are in the default STACK_HOME's.
        single = runner.results_dir(replace(settings, stack_home=Settings.stack_home))
        print(f"wrote {scaling.write_section(result, runner.DOC, runner.PLOTS_DIR, single)}")
        return 0
    machine_file = runner.results_dir(settings) / "machine.json"
    if args.command == "all":
        started = time.monotonic()
        machine = describe(settings)  # before the load: the load average says who else runs
        failed = runner.run_all(settings, runner.STAGES, [])
        machine["whole `make bench` run"] = f"{(time.monotonic() - started) / 60:.1f} min"
        machine_file.parent.mkdir(parents=True, exist_ok=True)
        machine_file.write_text(json.dumps(machine, indent=1))
    else:
        machine = json.loads(machine_file.read_text()) if machine_file.exists() else {}
        failed = []
    doc = runner.write_report(runner.load_results(settings), machine)
    print(f"wrote {doc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
