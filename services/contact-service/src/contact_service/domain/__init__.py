"""Domain model of the contact service: plain Python, no I/O."""
