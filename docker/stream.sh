#!/usr/bin/env bash
# The `stream` service: the streaming job as `make stream-up` runs it on the native stack,
# kept alive by the same supervisor (stack/supervise.py: restarts after an outage, stops on
# exits 2/4/5 that a restart cannot fix), with the jars and Java that `python -m stack
# spark` finds (the image's /opt/m2 and JDK 17). Its output goes to `docker compose logs
# stream` and to $STACK_HOME/logs/stream.log, which the healthcheck reads as the native
# probe does (docker/probe.py stream).
set -euo pipefail
log="$STACK_HOME/logs/stream.log"
mkdir -p "$(dirname "$log")"
exec python -m stack.supervise -- python -m stack spark streaming run > >(tee -a "$log") 2>&1
