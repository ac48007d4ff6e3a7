"""The end-to-end benchmark's own streaming job: ``streaming.job.run`` on a sandbox contract.

    python -m bench.job --contract-dir DIR --subject SUBJECT --checkpoint DIR [--conf K=V]...

Runs until SIGTERM/SIGINT with the processing-time trigger (``STREAM_TRIGGER_SECONDS``),
logging the job's JSON lines on stderr. A process of its own, so that its memory (Python
driver + Spark JVM, one process group) is measured apart from everything else.

``--conf`` adds Spark settings to the session's own (bench/cluster.py: ``spark.cores.max``,
where the executors run; bench/e2e.py's cold start: the driver's JVM options, without
class data sharing). The session is built with them first; the job's own
``build_spark_session`` then joins it (``getOrCreate``), as it would any running session.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

from config.settings import load_settings
from contract.catalog import load_contract
from stack.spark import with_spark_runtime
from streaming.checkpoint import query_name
from streaming.job import Trigger, run
from streaming.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.job")
    parser.add_argument("--contract-dir", type=Path, required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="a Spark setting beyond the session's own (repeatable)")
    args = parser.parse_args(argv)
    configure_logging()
    settings = replace(with_spark_runtime(load_settings()),
                       spark_checkpoint_dir=str(args.checkpoint))
    contract = load_contract(args.subject, args.contract_dir)
    extra = dict(item.split("=", 1) for item in args.conf if "=" in item)
    if len(extra) != len(args.conf):
        parser.error(f"--conf takes KEY=VALUE, got {args.conf}")
    if extra:
        from streaming.session import build_spark_session  # inner: pyspark, only if needed

        build_spark_session(settings, f"userstream-{query_name(contract)}", extra=extra)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run(settings, contract, Trigger.PROCESSING_TIME, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
