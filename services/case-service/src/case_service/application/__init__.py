"""Command and event handlers of the case service: load a case, run a domain command, append, project."""
