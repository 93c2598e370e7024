"""The audit service: the tamper-evident audit trail of every event."""
