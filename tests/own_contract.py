"""A throwaway contract of one's own, as docs/your-own-contract.md describes it: a few
fields from the randomuser catalogue (producers.mapping) plus one from a rules module of
its own. Shared by the unit tests and the end-to-end test."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

RULES_MODULE_SOURCE = '''
"""Rules of a contract of one's own: the randomuser catalogue plus one derived field."""
from producers.mapping import FIELD_RULES as RANDOMUSER, FieldRule, string_at

_first, _last = string_at("name.first"), string_at("name.last")


def _initials(user):
    first, last = _first(user), _last(user)
    return None if first is None or last is None else f"{first[:1]}{last[:1]}".upper()


FIELD_RULES = {**RANDOMUSER, "initials": FieldRule("name.first+name.last", _initials)}
'''


def avsc(name: str, *, own_field: str = "initials") -> dict:
    return {
        "type": "record",
        "name": "OwnUser",
        "namespace": "com.example.own",
        "doc": "A throwaway contract of one's own.",
        "fields": [
            {"name": "id", "type": {"type": "string", "logicalType": "uuid"},
             "doc": "The user's id (login.uuid)."},
            {"name": "first_name", "type": "string", "doc": "Given name."},
            {"name": "email", "type": ["null", "string"], "default": None, "doc": "E-mail."},
            {"name": own_field, "type": ["null", "string"], "default": None,
             "doc": "From the contract's own rules module."},
        ],
    }


def sidecar(name: str, keyspace: str, rules: str, *, extra: str = "") -> str:
    return textwrap.dedent(f"""\
        subject = "{name}-value"
        topic = "{name}"
        compatibility = "BACKWARD"

        [kafka]
        partitions = 2
        replication_factor = 1
        rejects_topic = "{name}.rejected"

        [cassandra]
        keyspace = "{keyspace}"
        table = "own_users"
        partition_key = ["id"]
        clustering_key = []
        ttl_seconds = 0

        [source]
        api = "randomuser"
        rules = "{rules}"
        """) + extra


def write_contract(directory: Path, name: str, keyspace: str, rules: str,
                   *, extra: str = "", own_field: str = "initials") -> Path:
    """``<name>-value.avsc`` and its sidecar in ``directory``; returns the .avsc path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-value.avsc"
    path.write_text(json.dumps(avsc(name, own_field=own_field), indent=2) + "\n",
                    encoding="utf-8")
    path.with_suffix(".toml").write_text(sidecar(name, keyspace, rules, extra=extra),
                                         encoding="utf-8")
    return path


def write_rules_module(directory: Path, module: str) -> Path:
    """``<module>.py`` in ``directory`` (put ``directory`` on the import path)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{module}.py"
    path.write_text(RULES_MODULE_SOURCE, encoding="utf-8")
    return path
