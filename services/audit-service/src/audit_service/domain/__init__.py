"""Domain model of the audit service: plain Python, no I/O."""
