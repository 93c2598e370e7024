"""Command and event handlers of the audit service."""
