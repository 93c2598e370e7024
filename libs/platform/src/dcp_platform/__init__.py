"""Shared service runtime for the debt collection platform: settings, auth, context, problems, logging,
metrics, health and the app factory (event-sourcing machinery lives in `dcp_platform.eventsourcing`)."""
