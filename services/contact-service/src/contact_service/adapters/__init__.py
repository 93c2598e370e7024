"""Adapters of the contact service: event store, Kafka and database read models."""
