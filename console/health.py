"""Whether a console answers: its ``/healthz``, asked the way `make up` and `make status` do."""

from __future__ import annotations

import requests

PROBE_TIMEOUT_S = 3.0


def healthz_problem(url: str) -> str | None:
    """None when the console at ``url`` answers ``GET /healthz`` with 200 ``ok``, else why not."""
    try:
        resp = requests.get(f"{url.rstrip('/')}/healthz", timeout=PROBE_TIMEOUT_S)
    except requests.RequestException as exc:
        return f"GET /healthz failed: {exc.__class__.__name__}"
    if resp.status_code != 200 or resp.text != "ok":
        return f"GET /healthz answered {resp.status_code}"
    return None
