"""The case domain: the Case aggregate, ageing, segmentation, assignment. Plain Python, no I/O."""
