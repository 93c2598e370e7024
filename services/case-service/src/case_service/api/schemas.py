"""HTTP request and response bodies of the case API (money in minor units with its currency)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from case_service.domain.assignment import AssignmentPolicy
from dcp_events.catalogue.base import CaseAmounts, Id, Jurisdiction, Money
from dcp_events.catalogue.debtor import Account, Debtor
from dcp_events.catalogue.enums import Channel, CloseReason, HoldType, Stage


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenCase(Body):
    """A delinquent account placed for collection (idempotent by creditor + account reference)."""

    placement_id: str | None = Field(default=None, min_length=1, max_length=128)
    debtor: Debtor
    account: Account
    amounts: CaseAmounts
    due_since: date | None = Field(default=None, description="Oldest unpaid due date.")
    days_past_due: int | None = Field(
        default=None, ge=1, le=36_500, description="Alternative to due_since (at most 100 years)."
    )
    jurisdiction: str = Field(pattern=r"^[A-Z]{2}$")
    risk_score: int | None = Field(default=None, ge=0, le=1000)


class AssignCase(Body):
    policy: AssignmentPolicy
    team: str | None = Field(default=None, description="round_robin (required) and least_loaded.")
    assignee_id: str | None = Field(default=None, description="direct: the collector or agency id.")
    reason: str | None = Field(default=None, min_length=1, max_length=500)


class ChangeStage(Body):
    to_stage: Stage
    reason: str = Field(min_length=1, max_length=500)


class PlaceHold(Body):
    hold_type: HoldType
    hold_id: str | None = Field(default=None, min_length=1, max_length=128, description="For retries.")
    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    expires_at: AwareDatetime | None = Field(default=None, description="A timer releases the hold then.")
    evidence_ref: str | None = Field(default=None, min_length=1, max_length=128)


class AddCharge(Body):
    reason: Literal["interest", "fee", "costs"] = Field(description="Which part of the debt grows.")
    amount: Money
    reference: str | None = Field(
        default=None, min_length=1, max_length=128, description="The creditor's reference."
    )


class CloseCase(Body):
    reason: CloseReason
    note: str | None = Field(default=None, min_length=1, max_length=2000)


class QualificationBody(Body):
    jurisdictions: list[Jurisdiction] = Field(min_length=1)
    languages: list[Id] = Field(min_length=1)
    channels: list[Channel] = Field(default_factory=list)
    expires_on: date | None = None


class StaffBody(Body):
    kind: Literal["collector", "agency"]
    team: Id | None = None
    capacity: int = Field(ge=0, le=1_000_000, description="Most open cases at once.")
    active: bool = True
    qualifications: list[QualificationBody] = Field(default_factory=list)


class CaseView(BaseModel):
    """A case's current state."""

    case_id: str
    version: int
    status: str
    stage: Stage
    bucket: str
    days_past_due: int
    due_since: date | None
    time_barred_at: date | None = Field(
        default=None,
        description="The first day the debt is time-barred under its jurisdiction's limitation rule (None: "
        "not known); the rule, citation and basis are in `detail.limitation`.",
    )
    time_barred: bool = Field(default=False, description="Whether the debt is time-barred today.")
    balance: Money
    jurisdiction: str
    product: str
    creditor_id: str
    account_reference: str
    risk_score: int | None
    assignee: dict[str, Any] | None
    segment: str | None
    strategy_id: str | None
    experiment_id: str | None = None
    experiment_arm: str | None
    active_holds: int
    close_reason: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    detail: dict[str, Any] | None = None


class CasePage(BaseModel):
    items: list[CaseView]
    next_cursor: str | None
