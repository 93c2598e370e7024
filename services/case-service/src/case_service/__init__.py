"""The case service: collection cases — placement, strategy, assignment, stages, holds, balance."""
