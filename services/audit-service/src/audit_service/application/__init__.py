"""Use cases: ingest from Kafka, checkpoints, verification, rebuild, findings."""
