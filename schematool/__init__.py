"""Schema tooling: ``python -m schematool check|generate|apply|diff``.

``gate``: the offline pull-request gate (no services). ``migrate``: ``make schemas`` and
``make schemas-diff`` against the live registry, Kafka and Cassandra.
"""
