"""The closed vocabularies used in event payloads (string enums; the value is what goes on the wire)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    FIELD_VISIT = "field_visit"


class ContactParty(StrEnum):
    DEBTOR = "debtor"
    THIRD_PARTY = "third_party"


class ContactOutcome(StrEnum):
    RIGHT_PARTY_CONTACT = "right_party_contact"
    THIRD_PARTY_CONTACT = "third_party_contact"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    WRONG_NUMBER = "wrong_number"
    REFUSED = "refused"
    DISPUTE_RAISED = "dispute_raised"
    PROMISE_MADE = "promise_made"
    MESSAGE_SENT = "message_sent"  # an e-mail, SMS or letter handed to its channel (delivery reported later)


class Stage(StrEnum):
    EARLY = "early"
    LATE = "late"
    LEGAL = "legal"
    WRITTEN_OFF = "written_off"


class HoldType(StrEnum):
    DISPUTE = "dispute"
    CEASE_COMMUNICATION = "cease_communication"
    BREATHING_SPACE = "breathing_space"
    MENTAL_HEALTH_CRISIS = "mental_health_crisis"
    BANKRUPTCY = "bankruptcy"
    DECEASED = "deceased"
    ATTORNEY = "attorney"
    COMPLAINT = "complaint"
    DEBT_ADVICE = "debt_advice"
    VERIFICATION_PENDING = "verification_pending"


class CloseReason(StrEnum):
    PAID_IN_FULL = "paid_in_full"
    SETTLED = "settled"
    WRITTEN_OFF = "written_off"
    RECALLED = "recalled"


class BalanceChangeReason(StrEnum):
    PAYMENT = "payment"
    REVERSAL = "reversal"
    INTEREST = "interest"
    FEE = "fee"
    COSTS = "costs"  # legal costs added to the debt
    WAIVER = "waiver"
    ADJUSTMENT = "adjustment"
    REFUND = "refund"  # a credit balance paid back to the debtor


class LegalHandler(StrEnum):
    """Who acts for the creditor in the legal stage."""

    SOLICITOR = "solicitor"  # an outside firm (attorney, solicitor, 律师事务所)
    IN_HOUSE = "in_house"  # the institution's own legal team


class LegalStep(StrEnum):
    """The steps of a legal matter, in the order they can happen (enforcement after judgment)."""

    CLAIM_FILED = "claim_filed"
    HEARING = "hearing"
    JUDGMENT = "judgment"
    ENFORCEMENT = "enforcement"
    WITHDRAWN = "withdrawn"


class BalancePart(StrEnum):
    """The parts a case's balance is held in. The debtor owes principal + interest + fees + costs;
    `credit` is what the creditor owes the debtor (an over-payment, until refunded)."""

    PRINCIPAL = "principal"
    INTEREST = "interest"
    FEES = "fees"
    COSTS = "costs"
    CREDIT = "credit"


class PaymentMethod(StrEnum):
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    DIRECT_DEBIT = "direct_debit"
    CASH = "cash"
    CHEQUE = "cheque"
    OTHER = "other"


class ReversalReason(StrEnum):
    CHARGEBACK = "chargeback"
    RETURNED_PAYMENT = "returned_payment"
    ERROR = "error"


class AssigneeKind(StrEnum):
    COLLECTOR = "collector"
    TEAM = "team"
    AGENCY = "agency"


class TimeZoneSource(StrEnum):
    ADDRESS = "address"
    PHONE_AREA_CODE = "phone_area_code"
    DECLARED = "declared"


class PhoneKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    WORK = "work"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class NoteCategory(StrEnum):
    """What a case note is about (a collector's diary, as every collection system keeps one)."""

    GENERAL = "general"
    CONVERSATION = "conversation"  # what the debtor or a third party said
    PAYMENT = "payment"
    DISPUTE = "dispute"
    COMPLAINT = "complaint"
    VULNERABILITY = "vulnerability"
    LEGAL = "legal"


class NoteAudience(StrEnum):
    """The roles a case note is shown to."""

    COLLECTOR = "collector"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


class VulnerabilityType(StrEnum):
    """The four drivers of vulnerability in the FCA's guidance (FG21/1)."""

    HEALTH = "health"
    LIFE_EVENT = "life_event"
    RESILIENCE = "resilience"
    CAPABILITY = "capability"


class ConsentMethod(StrEnum):
    """How the debtor gave (or refused) consent to record the details of a vulnerability."""

    VERBAL = "verbal"
    WRITTEN = "written"
    ELECTRONIC = "electronic"


class VulnerabilityReviewOutcome(StrEnum):
    """What a review of a vulnerability flag decided."""

    CONTINUE = "continue"  # still applies: reviewed again on a new date
    CHANGE = "change"  # still vulnerable, of another type (or with other details)
    REMOVE = "remove"  # no longer applies
