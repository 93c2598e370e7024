"""The one place that wires the audit service: its runtime (trail pool, ingest, checkpointer),
readiness checks and routers."""

from __future__ import annotations

from fastapi import FastAPI

from audit_service.api import export, findings, integrity, reconciliation, refusals, simulations, trail
from audit_service.application.runtime import AuditRuntime
from audit_service.console import routes as console
from audit_service.settings import AuditServiceSettings
from dcp_platform.app import create_service_app
from dcp_platform.health import kafka_check, postgres_check

ROUTERS = (
    trail.router,
    integrity.router,
    integrity.keys_router,
    export.router,
    findings.router,
    reconciliation.router,
    simulations.router,
    refusals.router,
)


def bootstrap(settings: AuditServiceSettings) -> FastAPI:
    clock = settings.make_clock()
    runtime = AuditRuntime(settings, clock)
    timeout = settings.readiness_timeout_seconds
    app = create_service_app(
        settings,
        routers=ROUTERS,
        lifespan_hooks=[runtime.lifespan],
        readiness_checks=[
            postgres_check(settings.trail_dsn, timeout=timeout),
            kafka_check(settings.kafka_bootstrap_servers, timeout=timeout),
        ],
        include_default_readiness_checks=False,
        clock=clock,
        description="The audit service: the immutable, hash-chained, signed compliance trail, for auditors.",
    )
    app.state.audit = runtime
    # the auditors' web console (/console): pages over this API; a development sign-in in dev only
    console.install(app, dev_login=settings.is_dev, case_service_url=settings.console_case_service_url)
    app.state.consumers = runtime.consumers  # as every service app names its consumer groups
    return app
