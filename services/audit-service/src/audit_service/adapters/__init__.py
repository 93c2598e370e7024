"""Adapters of the audit service: event store, Kafka and database read models."""
