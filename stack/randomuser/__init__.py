"""The bundled randomuser.me-compatible API: deterministic users, injectable failures."""

from stack.randomuser.failures import FAIL_MODES, FailurePlan, FailurePlanError
from stack.randomuser.generator import API_VERSION, BROKEN_KINDS, MAX_RESULTS, ODD_KINDS, ODD_SECRET
from stack.randomuser.server import make_server, running_server, serve_in_thread

__all__ = [
    "API_VERSION",
    "BROKEN_KINDS",
    "FAIL_MODES",
    "MAX_RESULTS",
    "ODD_KINDS",
    "ODD_SECRET",
    "FailurePlan",
    "FailurePlanError",
    "make_server",
    "running_server",
    "serve_in_thread",
]
