"""The producer side: randomuser API -> contract records -> Kafka (Avro) and rejects (JSON)."""
