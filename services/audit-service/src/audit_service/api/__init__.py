"""HTTP routes and schemas of the audit service."""
