"""The one place that wires the contact service: runtime, the desk (gate and records), subscriptions,
routers."""

from __future__ import annotations

from fastapi import FastAPI

from contact_service.api.routes import router
from contact_service.application.commands import ContactDesk
from contact_service.application.consumers import on_case_event, on_payment_event
from contact_service.settings import ContactServiceSettings
from dcp_platform.eventsourcing.runtime import Subscription
from dcp_platform.service import build_runtime, event_sourced_app

ROUTERS = (router,)
SUBSCRIPTIONS = (
    Subscription(group_id="contact-service.cases", topics=["collections.cases"], handler=on_case_event),
    Subscription(
        group_id="contact-service.payments", topics=["collections.payments"], handler=on_payment_event
    ),
)


def bootstrap(settings: ContactServiceSettings) -> FastAPI:
    runtime = build_runtime(settings)
    for subscription in SUBSCRIPTIONS:
        runtime.subscribe(subscription)
    app = event_sourced_app(
        settings,
        runtime=runtime,
        description=(
            "The contact service: the compliance gate in front of every contact (rule packs US "
            "Regulation F, GB FCA CONC 7 and breathing space, CN NIFA), contact outcomes, promises, "
            "debtor requests, worklists."
        ),
        routers=ROUTERS,
    )
    app.state.contact_desk = ContactDesk(runtime)
    return app
