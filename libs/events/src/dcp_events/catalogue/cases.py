"""Events of the case aggregate, published by case-service on collections.cases."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, StrictInt, model_validator

from dcp_events.catalogue.base import (
    CaseAmounts,
    Count,
    EventPayload,
    Id,
    IsoDate,
    Jurisdiction,
    Money,
    MoneyDelta,
    PayloadModel,
    Text,
    UtcDateTime,
)
from dcp_events.catalogue.debtor import Account, Debtor
from dcp_events.catalogue.enums import AssigneeKind, BalanceChangeReason, CloseReason, HoldType, Stage

TOPIC = "collections.cases"


class CaseEvent(EventPayload):
    topic: ClassVar[str] = TOPIC


class CaseOpened(CaseEvent):
    """A delinquent account placed for collection."""

    event_type: ClassVar[str] = "collections.case.opened"
    version: ClassVar[int] = 1

    debtor: Debtor
    account: Account
    amounts: CaseAmounts
    days_past_due: Count
    due_since: IsoDate
    jurisdiction: Jurisdiction
    risk_score: StrictInt | None = Field(default=None, ge=0, le=1000)
    placement_id: Id | None = Field(default=None, description="The integration placement it came from.")


class CaseStrategyAssigned(CaseEvent):
    event_type: ClassVar[str] = "collections.case.strategy_assigned"
    version: ClassVar[int] = 1

    segment: Id
    strategy_id: Id
    strategy_version: StrictInt = Field(ge=1)
    experiment_id: Id | None = None
    experiment_arm: Id | None = Field(default=None, description="e.g. champion, challenger-a.")


class Assignee(PayloadModel):
    kind: AssigneeKind
    id: Id


class CaseAssigned(CaseEvent):
    event_type: ClassVar[str] = "collections.case.assigned"
    version: ClassVar[int] = 1

    assignee: Assignee
    previous_assignee: Assignee | None = None
    reason: Text


class CaseStageChanged(CaseEvent):
    """Escalation (early -> late -> legal -> written_off) or de-escalation on cure."""

    event_type: ClassVar[str] = "collections.case.stage_changed"
    version: ClassVar[int] = 1

    from_stage: Stage
    to_stage: Stage
    days_past_due: Count
    reason: Text

    @model_validator(mode="after")
    def _is_a_change(self) -> CaseStageChanged:
        if self.from_stage == self.to_stage:
            raise ValueError(f"stage change from {self.from_stage} to itself")
        return self


class CaseHoldPlaced(CaseEvent):
    event_type: ClassVar[str] = "collections.case.hold_placed"
    version: ClassVar[int] = 1

    hold_id: Id
    hold_type: HoldType
    reason: Text | None = None
    expires_at: UtcDateTime | None = Field(default=None, description="None: until released.")
    evidence_ref: Id | None = None


class CaseHoldReleased(CaseEvent):
    event_type: ClassVar[str] = "collections.case.hold_released"
    version: ClassVar[int] = 1

    hold_id: Id
    hold_type: HoldType
    reason: Text


class CaseBalanceChanged(CaseEvent):
    event_type: ClassVar[str] = "collections.case.balance_changed"
    version: ClassVar[int] = 1

    reason: BalanceChangeReason
    change: MoneyDelta
    balance_after: Money
    reference: Id | None = Field(default=None, description="Payment, reversal or adjustment id.")

    @model_validator(mode="after")
    def _one_currency(self) -> CaseBalanceChanged:
        if self.change.currency != self.balance_after.currency:
            raise ValueError("change and balance_after are in different currencies")
        return self


class CaseClosed(CaseEvent):
    event_type: ClassVar[str] = "collections.case.closed"
    version: ClassVar[int] = 1

    reason: CloseReason
    final_balance: Money
    note: Text | None = None
