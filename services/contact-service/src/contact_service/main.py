"""Wiring of the contact service: settings, app factory (`contact_service.main:create_app`), CLI."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contact_service.api.routes import router
from contact_service.application.commands import ContactDesk
from contact_service.application.projections import on_case_event, on_payment_event
from dcp_platform.eventsourcing.runtime import Subscription
from dcp_platform.service import event_sourced_app, service_cli
from dcp_platform.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class ContactServiceSettings(ServiceSettings):
    service_name: str = "contact-service"
    http_port: int = 8002


def create_app(settings: ContactServiceSettings | None = None) -> FastAPI:
    settings = settings or ContactServiceSettings()
    app = event_sourced_app(
        settings,
        description=(
            "The contact service: the compliance gate in front of every contact (rule packs US "
            "Regulation F, GB FCA CONC 7 and breathing space, CN NIFA), contact outcomes, promises, "
            "debtor requests, worklists."
        ),
        routers=[router],
        subscriptions=[
            Subscription(
                group_id="contact-service.cases", topics=["collections.cases"], handler=on_case_event
            ),
            Subscription(
                group_id="contact-service.payments", topics=["collections.payments"], handler=on_payment_event
            ),
        ],
    )
    app.state.contact_desk = ContactDesk(app.state.runtime)
    return app


cli = service_cli(create_app, ContactServiceSettings, MIGRATIONS)

if __name__ == "__main__":
    cli()
