"""Domain model of the case service: plain Python, no I/O."""
