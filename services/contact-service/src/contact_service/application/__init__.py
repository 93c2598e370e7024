"""Command and event handlers of the contact service."""
