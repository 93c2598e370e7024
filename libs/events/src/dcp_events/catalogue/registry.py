"""The catalogue: every event type and version, the topics they travel on, and their dead-letter topics."""

from __future__ import annotations

from typing import Final

from dcp_events.catalogue import cases, contacts, integration, payments, policies, staff
from dcp_events.catalogue.base import EventPayload
from dcp_events.errors import UnknownEventType

TOPICS: Final[list[str]] = [
    cases.TOPIC,
    contacts.TOPIC,
    payments.TOPIC,
    staff.TOPIC,
    policies.TOPIC,
    integration.PLACEMENTS_TOPIC,
    integration.PAYMENTS_TOPIC,
    integration.CONTACTS_TOPIC,
]

# Published schemas live at <SCHEMA_BASE_URI><type>.json (the `dataschema` of each event).
SCHEMA_BASE_URI: Final = "https://dcp.example/contracts/schemas/"

# Headers a consumer puts on a record it sends to `<topic>.dlq` (values UTF-8 text).
DLQ_HEADER_ERROR: Final = "dlq.error"
DLQ_HEADER_ORIGINAL_TOPIC: Final = "dlq.original.topic"
DLQ_HEADER_ORIGINAL_PARTITION: Final = "dlq.original.partition"
DLQ_HEADER_ORIGINAL_OFFSET: Final = "dlq.original.offset"
DLQ_HEADER_CONSUMER: Final = "dlq.consumer"
DLQ_HEADERS: Final[list[str]] = [
    DLQ_HEADER_ERROR,
    DLQ_HEADER_ORIGINAL_TOPIC,
    DLQ_HEADER_ORIGINAL_PARTITION,
    DLQ_HEADER_ORIGINAL_OFFSET,
    DLQ_HEADER_CONSUMER,
]

_MODELS: list[type[EventPayload]] = [
    cases.CaseOpened,
    cases.CaseStrategyAssigned,
    cases.CaseAssigned,
    cases.CaseStageChanged,
    cases.CaseHoldPlaced,
    cases.CaseHoldReleased,
    cases.CaseNoteAdded,
    cases.CaseLegalReferralRequested,
    cases.CaseLegalReferred,
    cases.CaseLegalStepRecorded,
    cases.CaseVulnerabilityFlagged,
    cases.CaseVulnerabilityReviewed,
    cases.CaseVulnerabilityRemoved,
    cases.CaseVulnerabilityReviewDue,
    cases.CaseReferredToSpecialist,
    cases.CaseBalanceChanged,
    cases.CaseClosed,
    cases.CaseBucketChanged,
    cases.CaseLimitationDated,
    cases.CaseSettlementRecorded,
    cases.CaseReopened,
    cases.CaseChargeFrozen,
    cases.CaseInterestAccrued,
    cases.CaseArrangementChanged,
    cases.CaseRefundDue,
    cases.CaseDebtorUpdated,
    cases.ErasureCompleted,
    cases.PersonalDataDisclosed,
    contacts.ContactAttemptedV1,
    contacts.ContactAttempted,
    contacts.ContactBlocked,
    contacts.ContactPermitIssued,
    contacts.ContactPermitExpired,
    contacts.MessageDeliveryReported,
    contacts.ValidationNoticeSent,
    contacts.ContactPreferencesSet,
    contacts.PromiseMade,
    contacts.DisputeRaised,
    contacts.VerificationSent,
    contacts.CeaseRequested,
    contacts.ChannelOptedOut,
    contacts.WorkplaceContactProhibited,
    contacts.ContactPersonAgreed,
    payments.PaymentReceived,
    payments.PaymentHeld,
    payments.PaymentReversed,
    payments.PromiseTracked,
    payments.PromiseKept,
    payments.PromiseBroken,
    payments.FinancialStatementRecorded,
    payments.PaymentPlanAgreed,
    payments.InstallmentMissed,
    payments.PaymentPlanCompleted,
    payments.PaymentPlanBroken,
    payments.SettlementAgreed,
    payments.SettlementPaid,
    payments.SettlementLapsed,
    staff.StaffMemberChanged,
    policies.ExperimentArmStopped,
    policies.PolicyVersionProposed,
    policies.PolicyVersionApproved,
    policies.PolicyActivated,
    integration.AccountPlaced,
    integration.PlacementUpdated,
    integration.PlacementRecalled,
    integration.PaymentPosted,
    integration.ContactReported,
]

CATALOGUE: Final[dict[str, type[EventPayload]]] = {m.type_name(): m for m in _MODELS}
"""Full type string (e.g. "collections.case.opened.v1") -> payload model, every version."""

CURRENT_VERSIONS: Final[dict[str, int]] = {}
for _model in _MODELS:
    CURRENT_VERSIONS[_model.event_type] = max(CURRENT_VERSIONS.get(_model.event_type, 0), _model.version)

CURRENT: Final[dict[str, type[EventPayload]]] = {
    base: CATALOGUE[f"{base}.v{version}"] for base, version in CURRENT_VERSIONS.items()
}
"""Base type -> the model of its current version (what producers write)."""


def model_for(type_str: str) -> type[EventPayload]:
    """The payload model of a full type string; raises `UnknownEventType`."""
    try:
        return CATALOGUE[type_str]
    except KeyError:
        raise UnknownEventType(f"event type {type_str!r} is not in the catalogue") from None


def topic_of(type_str: str) -> str:
    """The topic an event type is published on."""
    return model_for(type_str).topic


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return f"{topic}.dlq"


def schema_uri(type_str: str) -> str:
    """The `dataschema` URI of an event type."""
    return f"{SCHEMA_BASE_URI}{type_str}.json"


def _check_catalogue() -> None:
    for model in _MODELS:
        if model.topic not in TOPICS:
            raise AssertionError(f"{model.__name__} is on unknown topic {model.topic}")
    if len(CATALOGUE) != len(_MODELS):
        raise AssertionError("two catalogue models share a type and version")


_check_catalogue()
