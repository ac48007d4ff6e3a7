"""The offline gate a schema change passes before merge: lint, compatibility against git
history, Cassandra safety, and the generated ``cql/`` (``make schemas-check``, ``make cql``)."""
