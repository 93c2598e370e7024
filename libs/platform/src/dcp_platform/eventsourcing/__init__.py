"""Event-sourcing machinery shared by every service: event store, outbox relay, consumers, timers."""
