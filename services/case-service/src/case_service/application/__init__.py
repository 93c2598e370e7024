"""Command and event handlers of the case service."""
