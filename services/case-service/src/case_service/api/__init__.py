"""HTTP routes and schemas of the case service."""
