"""The Spark Structured Streaming job: Kafka (Confluent-framed Avro) -> Cassandra.

One record, from its Kafka message to its Cassandra row, module by module; each one uses
only the modules above it:

1. ``frames``: the Confluent frame of each Kafka value as Spark columns (the rules of
   :mod:`contract.wire`).
2. ``registry``: the writer schema of a frame's id, and the reader schema (the subject's
   latest version).
3. ``dead_letters``: the Kafka record a row keeps, and the dead-letter row it becomes.
4. ``decode``: each payload decoded with its writer schema into the reader's shape.
5. ``table_target``: the table the rows go to (:class:`contract.cql.TableSpec`) and the
   columns it has now.
6. ``row_rules``: what Cassandra would refuse in a decoded row, found before writing.
7. ``triage``: one batch's plan, every record's fate in one pass (a table row or a dead
   letter), and the metrics the write collects.
8. ``cassandra_writer``: the sink; the connector's writes of rows and dead letters.
9. ``report``: what a micro-batch did, as numbers.
10. ``schema_check``: the start-up check of the live tables against the contract.
11. ``job``: the query loop; each micro-batch is triaged, written, dead-lettered, reported.
12. ``replay``: dead letters through the same triage and writer again.

Beside them: ``sql`` (Column helpers, the expression cache), ``session`` (the
SparkSession), ``checkpoint`` (the query's name and checkpoint), ``logs`` (JSON lines).
``python -m streaming`` runs the job, replays dead letters or checks the tables.
"""
