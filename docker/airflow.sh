#!/usr/bin/env bash
# The `airflow` service: `airflow standalone` (API server and UI on :8080, scheduler,
# DAG processor, triggerer) running the project's DAG with the image's locked packages.
# The simple auth manager keeps a password file and generates a password for a user it
# lacks; writing the file first makes the password the one given by AIRFLOW_PASSWORD, so
# the tools on the host log in with docker/host.env's credentials.
set -euo pipefail
: "${AIRFLOW_USERNAME:?AIRFLOW_USERNAME is not set}"
: "${AIRFLOW_PASSWORD:?AIRFLOW_PASSWORD is not set}"
passwords="$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
mkdir -p "$(dirname "$passwords")"
python - "$passwords" <<'PY'
import json, os, sys
with open(sys.argv[1], "w") as out:
    json.dump({os.environ["AIRFLOW_USERNAME"]: os.environ["AIRFLOW_PASSWORD"]}, out)
PY
exec airflow standalone
