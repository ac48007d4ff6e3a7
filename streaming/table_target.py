"""The table a contract's rows go to: the core's table model plus the columns it has now.

The table, its key and the columns its contract implies are :class:`contract.cql.TableSpec`,
the model the CQL and the migrations are generated from. The job adds one piece of runtime
state: the columns the live table has (``make schemas`` may add one while the job runs).
No Spark here: the start-up checks use it without a JVM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from contract.catalog import Contract
from contract.cql import LINEAGE_COLUMNS, TableSpec, table_spec


class TableBehindReaderSchema(RuntimeError):
    """The reader schema has fields the table lacks: writing would silently drop them."""


@dataclass(frozen=True)
class TableTarget:
    """A :class:`TableSpec` and the columns (name -> CQL type) that table has now."""

    spec: TableSpec
    source: str  # the contract file, for messages
    columns: Mapping[str, str]  # names as stored: the spec's at first, then the live table's

    @classmethod
    def from_spec(cls, spec: TableSpec, source: str) -> TableTarget:
        return cls(spec=spec, source=source, columns=spec.stored_columns)

    @classmethod
    def from_contract(cls, contract: Contract) -> TableTarget:
        return cls.from_spec(table_spec(contract), contract.source)

    def with_columns(self, columns: Mapping[str, str]) -> TableTarget:
        """The same table, with the columns it has now (after ``make schemas`` added some)."""
        return replace(self, columns=dict(columns))

    @property
    def cache_key(self) -> tuple[object, ...]:
        """Hashable and equal for equal targets (``columns`` is a mapping)."""
        return (self.spec, self.source, tuple(self.columns.items()))

    @property
    def keyspace(self) -> str:
        return self.spec.keyspace

    @property
    def table(self) -> str:
        return self.spec.table

    @property
    def qualified_table(self) -> str:
        return self.spec.qualified_table

    @property
    def partition_key(self) -> tuple[str, ...]:
        return self.spec.partition_key

    @property
    def primary_key(self) -> tuple[str, ...]:
        return self.spec.primary_key

    @property
    def data_columns(self) -> list[str]:
        return [c for c in self.columns if c not in LINEAGE_COLUMNS]


def columns_to_write(reader_fields: Sequence[str], target: TableTarget) -> list[str]:
    """The table's data columns the reader schema provides, in table order.

    A table column the reader lacks is left out (untouched by the upsert). A reader field
    the table lacks raises: the registry is ahead of the table, and writing would drop
    that field's data without a trace.
    """
    missing = [f for f in reader_fields if f not in target.columns]
    if missing:
        raise TableBehindReaderSchema(
            f"table {target.qualified_table} has no column for reader field(s) {missing}; "
            f"update {target.source} and run `make schemas` before producing with that schema"
        )
    return [c for c in target.data_columns if c in reader_fields]
