"""The Spark Structured Streaming job: Kafka (Confluent-framed Avro) -> Cassandra.

wire (frames) -> registry (schemas) -> decode (rows, dead letters) -> sink (Cassandra),
driven by job (the query, one micro-batch at a time); ``python -m streaming`` runs it.
"""
