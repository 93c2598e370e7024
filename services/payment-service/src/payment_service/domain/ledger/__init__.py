"""The case ledger: the payment-service aggregate of one case, split by concern.

`state` (what the ledger keeps, the case facts and policy it decides with), `rules` (pure checks),
`evolve` (its state's mutators, one per event type) and `aggregate` (`CaseLedger` and its decisions).
Import from here: `from payment_service.domain.ledger import CaseLedger`.
"""

from payment_service.domain.ledger.aggregate import CaseLedger
from payment_service.domain.ledger.evolve import CaseLedgerState
from payment_service.domain.ledger.rules import (
    check_collector_plan_limits,
    check_collector_settlement_limits,
    discount_bps,
    validate_plan,
    validate_settlement,
)
from payment_service.domain.ledger.state import (
    UTC_ZONE,
    ArrangementPolicy,
    ArrangementStatus,
    CaseFacts,
    LedgerPayment,
    PaymentStatus,
    Plan,
    PlanInstallment,
    Settlement,
    TrackedPromise,
)

__all__ = [
    "UTC_ZONE",
    "ArrangementPolicy",
    "ArrangementStatus",
    "CaseFacts",
    "CaseLedger",
    "CaseLedgerState",
    "LedgerPayment",
    "PaymentStatus",
    "Plan",
    "PlanInstallment",
    "Settlement",
    "TrackedPromise",
    "check_collector_plan_limits",
    "check_collector_settlement_limits",
    "discount_bps",
    "validate_plan",
    "validate_settlement",
]
