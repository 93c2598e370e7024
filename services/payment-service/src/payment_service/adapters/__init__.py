"""Adapters of the payment service: the ledger repository and units of work (PostgreSQL, memory),
case facts, payment references and read models."""
