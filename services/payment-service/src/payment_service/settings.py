"""The payment service's settings (environment variables; the shared ones in `dcp_platform.settings`)."""

from __future__ import annotations

from pydantic import Field

from dcp_platform.settings import ServiceSettings
from dcp_platform.values import from_fields
from payment_service.domain.ledger import ArrangementPolicy


class PaymentServiceSettings(ServiceSettings):
    service_name: str = "payment-service"
    http_port: int = 8003

    promise_grace_days: int = Field(
        default=2, ge=0, description="Days after a promise's due date it may still be paid."
    )
    installment_grace_days: int = Field(default=3, ge=0)
    settlement_grace_days: int = Field(default=0, ge=0)
    plan_max_term_months: int = Field(default=60, ge=1, description="No plan runs longer.")
    plan_supervisor_term_months: int = Field(default=12, ge=1, description="Longer plans need a supervisor.")
    plan_missed_installments_to_break: int = Field(default=2, ge=1)
    supervisor_discount_bps: int = Field(
        default=2000,
        ge=0,
        le=10_000,
        description="Plans and settlements discounting more (basis points) need a supervisor.",
    )
    settlement_max_days: int = Field(default=180, ge=0)
    settlement_supervisor_days: int = Field(
        default=30, ge=0, description="Later deadlines need a supervisor."
    )
    statement_valid_months: int = Field(
        default=6,
        ge=1,
        le=24,
        description="An income and expenditure statement judges arrangements for this many months.",
    )
    statement_required_in: tuple[str, ...] = Field(
        default=(),
        description='Jurisdictions (JSON list, e.g. ["GB"]) where a collector agrees a plan or a '
        "settlement only with a current statement; elsewhere one is used when there is one.",
    )

    def arrangement_policy(self) -> ArrangementPolicy:
        return from_fields(ArrangementPolicy, self)
