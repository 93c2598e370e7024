"""The audit trail's domain: entries, hash chains, Merkle trees, signed checkpoints, verification, masking."""
