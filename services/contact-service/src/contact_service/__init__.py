"""The contact service: contact attempts, the contact gate, promises and debtor requests."""
