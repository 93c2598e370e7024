"""The payment service's commands, ports, handler table and the consumers that build commands; no SQL."""
