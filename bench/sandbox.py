"""The sandbox contract lives in ``schematool.sandbox`` (ops' demo-evolve uses it too)."""

from schematool.sandbox import Sandbox, remove, sandbox, sandbox_name, sidecar_text, write_contract

__all__ = ["Sandbox", "remove", "sandbox", "sandbox_name", "sidecar_text", "write_contract"]
