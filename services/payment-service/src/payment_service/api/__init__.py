"""HTTP routes and schemas of the payment service."""
