"""Where a contract's mapping rules are: the module its sidecar names in ``[source] rules``.

The module (``producers.mapping`` unless the sidecar says otherwise) has a ``FIELD_RULES``
dict: field name -> :class:`producers.mapping.FieldRule`. The contract layer only checks
that the name is a module path; the import happens here, once per module, and a module
that is missing or has no ``FIELD_RULES`` is a :class:`RulesModuleError` naming the sidecar.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from contract.catalog import Contract
from producers.errors import RulesModuleError

__all__ = ["RulesModuleError", "rules_for"]


def rules_for(contract: Contract) -> Mapping[str, Any]:
    """The ``FIELD_RULES`` of the contract's rules module (read-only)."""
    try:
        return _load(contract.rules_module)
    except _Unusable as exc:
        raise RulesModuleError(contract.sidecar_path, contract.rules_module, str(exc)) from None


class _Unusable(Exception):
    """Why a module cannot serve as rules (turned into RulesModuleError with the sidecar)."""


@lru_cache(maxsize=32)
def _load(module_path: str) -> Mapping[str, Any]:
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        raise _Unusable(f"no module {exc.name!r} (is its directory on PYTHONPATH?)") from None
    except ImportError as exc:
        raise _Unusable(f"cannot import it: {exc}") from None
    rules = getattr(module, "FIELD_RULES", None)
    if not isinstance(rules, Mapping):
        raise _Unusable(f"{module.__file__} has no FIELD_RULES dict (field name -> FieldRule)")
    bad = sorted(name for name, rule in rules.items()
                 if not callable(getattr(rule, "extract", None)))
    if bad:
        raise _Unusable(f"FIELD_RULES entries without an extract function: {bad}")
    return MappingProxyType(dict(rules))
