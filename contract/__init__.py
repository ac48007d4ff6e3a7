"""The pure core: the contract model, Avro -> CQL and Spark type mappings, the wire format.

No Spark, no network or service I/O, no settings: every other layer imports this one, and it
imports none of them (the layer check in ``make lint`` keeps it so).
"""
