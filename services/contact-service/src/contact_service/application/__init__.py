"""Command handlers (the gate, promises, debtor requests, worklists) and the consumed-event projections."""
