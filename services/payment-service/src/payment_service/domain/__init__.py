"""Domain model of the payment service: plain Python, no I/O."""
