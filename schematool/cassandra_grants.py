"""What the pipeline's Cassandra role may do, in the secure profile: its contracts' keyspaces.

``userstream_pipeline`` (the stream, config/credentials.py) starts with no permission at
all (stack/services/cassandra.py makes it so). ``make schemas`` runs as
``userstream_migrator``, which created the keyspaces and so owns them; after the tables are
migrated it grants the pipeline MODIFY (insert, upsert, delete: rows and dead letters) and
SELECT on each contract's keyspace, and nothing elsewhere: no other keyspace, no schema
change, no role. Every contract's tables, its dead letters included, live in its keyspace.
"""

from __future__ import annotations

from collections.abc import Iterable

from config.clients import cassandra_session
from config.credentials import CASSANDRA_PIPELINE
from config.settings import Settings
from contract.catalog import Contract
from contract.cql import quote_identifier

# Least privilege for a job that writes rows and reads them back (the connector reads the
# table's metadata from system_schema, which every role may read).
PIPELINE_PERMISSIONS = ("MODIFY", "SELECT")


class GrantError(RuntimeError):
    """A GRANT was refused; the message names the statement and the keyspace."""


def pipeline_keyspaces(contracts: Iterable[Contract]) -> list[str]:
    """Each keyspace a contract writes to, once, sorted."""
    return sorted({contract.keyspace for contract in contracts})


def pipeline_grants(contracts: Iterable[Contract], role: str = CASSANDRA_PIPELINE) -> list[str]:
    """The GRANT statements that let ``role`` write and read the contracts' keyspaces."""
    return [
        f"GRANT {permission} ON KEYSPACE {quote_identifier(keyspace)} TO {role}"
        for keyspace in pipeline_keyspaces(contracts)
        for permission in PIPELINE_PERMISSIONS
    ]


def apply_grants(settings: Settings, contracts: Iterable[Contract]) -> list[str]:
    """Run :func:`pipeline_grants` as the settings' user (the migrator); the statements run.

    Only in the secure profile (the plain one has no authorizer: nothing to grant). A GRANT
    of a permission the role holds is a no-op, so running it again changes nothing. The
    keyspaces must exist (run after the tables' migration): Cassandra refuses a grant on a
    keyspace it does not know.
    """
    if settings.stack_profile != "secure":
        return []
    statements = pipeline_grants(contracts)
    if not statements:
        return []
    with cassandra_session(settings) as session:
        for statement in statements:
            try:
                session.execute(statement)
            except Exception as exc:  # noqa: BLE001 - re-raised typed, with the statement
                raise GrantError(
                    f"{statement} as {settings.cassandra_username or 'no user'}: "
                    f"{exc.__class__.__name__}: {str(exc)[:300]} (the keyspace must exist and "
                    "be the migrator's: make schemas creates it as the admin role)"
                ) from exc
    return statements
