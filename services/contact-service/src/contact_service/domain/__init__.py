"""Plain-Python domain of the contact service: its errors and the worklist ordering (no I/O)."""
