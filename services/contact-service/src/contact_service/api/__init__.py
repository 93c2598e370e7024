"""HTTP routes and schemas of the contact service."""
