"""What the API accepts, the event model accepts: for every request body of the four services and the
events it becomes, each field they share is probed at the request's own bounds (the shortest and
longest text, the smallest and largest number it admits, an empty text where it admits one, nested
models field by field). A value the API takes and the event refuses would be a 500 (or a 422 from
inside the handler) on a request the schema said was fine; here it is a failing test that names it."""

from __future__ import annotations

import importlib
from typing import Any, get_args, get_origin

import pytest
from fastapi import routing
from pydantic import BaseModel, TypeAdapter, ValidationError

from dcp_events.catalogue import cases, contacts, integration, payments, policies, staff

# Each request body and the events its handler builds from it (None: it records no event).
EVENTS_OF: dict[str, tuple[type[BaseModel], ...] | None] = {
    "OpenCase": (integration.AccountPlaced, cases.CaseOpened),
    "AssignCase": (cases.CaseAssigned,),
    "ChangeStage": (cases.CaseStageChanged,),
    "PlaceHold": (cases.CaseHoldPlaced,),
    "NoteRequest": (cases.CaseNoteAdded,),
    "ReferralRequest": (cases.CaseLegalReferred, cases.CaseLegalReferralRequested),
    "LegalStepRequest": (cases.CaseLegalStepRecorded,),
    "VulnerabilityFlagRequest": (cases.CaseVulnerabilityFlagged,),
    "VulnerabilityReviewRequest": (cases.CaseVulnerabilityReviewed, cases.CaseVulnerabilityRemoved),
    "AddCharge": (cases.CaseBalanceChanged,),
    "CloseCase": (cases.CaseClosed,),
    "StaffBody": (staff.StaffMemberChanged,),
    "ProposeBody": (policies.PolicyVersionProposed,),
    "ApproveBody": (policies.PolicyVersionApproved,),
    "ActivateBody": (policies.PolicyActivated,),
    "TrainBody": (policies.PolicyVersionProposed,),
    "ErasureRequest": (cases.ErasureCompleted,),
    "ContactCheck": (contacts.ContactBlocked,),
    "ContactAttemptRequest": (contacts.ContactAttempted, contacts.ContactBlocked),
    "PermitRequest": (contacts.ContactPermitIssued, contacts.ContactBlocked),
    "PermitOutcomeRequest": (contacts.ContactAttempted,),
    "SimulationRequest": None,  # a replay over the trail: it reads, and stores its report
    "DialerPermitRequest": None,  # a batch of PermitRequests for a worklist's cases
    "MessageRequest": (contacts.ContactPermitIssued, contacts.ContactBlocked),
    "PromiseRequest": (contacts.PromiseMade,),
    "VerificationRequest": (contacts.VerificationSent,),
    "DebtorRequest": (
        contacts.DisputeRaised,
        contacts.CeaseRequested,
        contacts.ChannelOptedOut,
        contacts.ContactPersonAgreed,
        contacts.ContactPreferencesSet,
        contacts.WorkplaceContactProhibited,
    ),
    "PaymentIn": (payments.PaymentReceived,),
    "ReversalIn": (payments.PaymentReversed,),
    "PlanIn": (payments.PaymentPlanAgreed,),
    "SettlementIn": (payments.SettlementAgreed,),
    "FinancialStatementIn": (payments.FinancialStatementRecorded,),
}

SERVICES = ("case_service", "contact_service", "payment_service", "audit_service")


def request_bodies() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for module in SERVICES:
        app = importlib.import_module(f"{module}.main").create_app()
        for route in routing.iter_route_contexts(app.routes):
            if isinstance(route.original_route, routing.APIRoute) and route.body_field is not None:
                model = route.body_field.field_info.annotation
                assert isinstance(model, type) and issubclass(model, BaseModel)
                found[model.__name__] = model
    return found


def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    from typing import Annotated

    field = model.model_fields[name]
    return TypeAdapter(Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation)


def _branch(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null alternative of an optional field's schema."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return options[0] if len(options) == 1 else schema


def probes(schema: dict[str, Any]) -> list[Any]:
    """The values at the edges of what `schema` admits."""
    schema = _branch(schema)
    kind = schema.get("type")
    if kind == "string" and "pattern" not in schema and "format" not in schema and "enum" not in schema:
        shortest = schema.get("minLength", 0)
        return ["x" * shortest, "x" * schema.get("maxLength", 100_000)]
    if kind == "integer":
        return [schema.get("minimum", -(2**70)), schema.get("maximum", 2**70)]
    return []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (itself, optional, or in a list), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for argument in get_args(annotation):
            nested = _model_of(argument)
            if nested is not None:
                return nested
    return None


def disagreements(request: type[BaseModel], event: type[BaseModel], path: str = "") -> list[str]:
    found: list[str] = []
    for name in sorted(set(request.model_fields) & set(event.model_fields)):
        inner_request = _model_of(request.model_fields[name].annotation)
        inner_event = _model_of(event.model_fields[name].annotation)
        if inner_request is not None and inner_event is not None:
            found += disagreements(inner_request, inner_event, f"{path}{name}.")
            continue
        asked, taken = _adapter(request, name), _adapter(event, name)
        for value in probes(asked.json_schema()):
            try:
                asked.validate_python(value)
            except ValidationError:
                continue  # the API refuses it too
            try:
                taken.validate_python(value)
            except ValidationError:
                shown = repr(value) if len(repr(value)) < 40 else f"a text of length {len(value)}"
                found.append(f"{request.__name__}.{path}{name} accepts {shown}; {event.__name__} refuses it")
    return found


BODIES = request_bodies()


def test_every_request_body_names_the_events_it_becomes() -> None:
    assert set(BODIES) == set(EVENTS_OF), sorted(set(BODIES) ^ set(EVENTS_OF))


@pytest.mark.parametrize("name", sorted(n for n, e in EVENTS_OF.items() if e))
def test_what_the_api_accepts_the_event_accepts(name: str) -> None:
    events = EVENTS_OF[name]
    assert events is not None
    problems = [p for event in events for p in disagreements(BODIES[name], event)]
    assert problems == []
