"""Adapters of the case service: event store, Kafka and database read models."""
