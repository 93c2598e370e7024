"""Read-model tables (case facts, contact history, promises) and their queries."""
