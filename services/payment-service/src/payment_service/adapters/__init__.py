"""Adapters of the payment service: event store, Kafka and database read models."""
