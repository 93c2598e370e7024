"""Command and event handlers of the payment service."""
