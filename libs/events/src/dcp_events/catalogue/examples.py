"""One realistic payload per catalogue type: published as AsyncAPI examples and used by the tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Final

from dcp_events.catalogue import cases, contacts, integration, payments, policies, staff
from dcp_events.catalogue.base import CaseAmounts, DocumentReference, EventPayload, Money, MoneyDelta
from dcp_events.catalogue.debtor import Account, Debtor, EmailAddress, PhoneNumber, PostalAddress
from dcp_events.catalogue.enums import (
    AssigneeKind,
    BalanceChangeReason,
    BalancePart,
    Channel,
    CloseReason,
    ConsentMethod,
    ContactOutcome,
    ContactParty,
    HoldType,
    LegalHandler,
    LegalStep,
    NoteAudience,
    NoteCategory,
    PaymentMethod,
    PhoneKind,
    ReversalReason,
    Stage,
    TimeZoneSource,
    VulnerabilityReviewOutcome,
    VulnerabilityType,
    Weekday,
)


def _usd(minor: int) -> Money:
    return Money(amount_minor=minor, currency="USD")


def _gbp(minor: int) -> Money:
    return Money(amount_minor=minor, currency="GBP")


_POLICY_DOCUMENT: Final = '{"ageing":{"stage_thresholds":{"late":35,"legal":91}},"version":2}'

_AT = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
_ACCOUNT = Account(creditor_id="acme-bank", account_reference="CC-0042-7781", product="credit_card")
_DEBTOR = Debtor(
    debtor_id="dbt-7781",
    full_name="Siân Ní Bhriain",
    national_id=None,
    phones=[
        PhoneNumber(number="+447700900123", kind=PhoneKind.MOBILE, consent_to_call=True, consent_to_sms=False)
    ],
    emails=[EmailAddress(address="sian@example.org", consent_to_email=True)],
    address=PostalAddress(lines=["12 Harbour Row"], city="Cardiff", postal_code="CF10 4PA", country="GB"),
    language="cy-GB",
    time_zone="Europe/London",
    time_zone_source=TimeZoneSource.ADDRESS,
)
_AMOUNTS = CaseAmounts(
    principal=_gbp(120000), interest=_gbp(4550), fees=_gbp(2500), total_balance=_gbp(127050)
)

EXAMPLES: Final[dict[str, EventPayload]] = {
    p.type_name(): p
    for p in [
        cases.CaseOpened(
            debtor=_DEBTOR,
            account=_ACCOUNT,
            amounts=_AMOUNTS,
            days_past_due=45,
            due_since=date(2026, 10, 15),
            jurisdiction="GB",
            risk_score=612,
            placement_id="plc-2026-11-0001",
        ),
        cases.CaseStrategyAssigned(
            segment="early-low-risk",
            strategy_id="soft-touch",
            strategy_version=3,
            experiment_id="exp-sms-first",
            experiment_arm="challenger-a",
        ),
        cases.CaseAssigned(
            assignee=cases.Assignee(kind=AssigneeKind.COLLECTOR, id="usr-alice"),
            previous_assignee=cases.Assignee(kind=AssigneeKind.TEAM, id="team-early"),
            reason="worklist balancing",
        ),
        cases.CaseStageChanged(
            from_stage=Stage.EARLY, to_stage=Stage.LATE, days_past_due=61, reason="61 days past due"
        ),
        cases.CaseHoldPlaced(
            hold_id="hold-1", hold_type=HoldType.BREATHING_SPACE, reason="debt advice", expires_at=_AT
        ),
        cases.CaseHoldReleased(hold_id="hold-1", hold_type=HoldType.BREATHING_SPACE, reason="expired"),
        cases.CaseNoteAdded(
            note_id="note-1",
            category=NoteCategory.CONVERSATION,
            note_text="Debtor says the card was stolen in March; will send the police report.",
            visible_to=[NoteAudience.COLLECTOR, NoteAudience.SUPERVISOR, NoteAudience.AUDITOR],
            author="col-1",
        ),
        cases.CaseLegalReferralRequested(
            referral_id="lgl-1",
            handler=LegalHandler.SOLICITOR,
            handler_id="firm-hart-lee",
            reason="no payment after the final demand",
            requested_by="col-1",
            balance=_usd(650000),
            approval_threshold=_usd(500000),
        ),
        cases.CaseLegalReferred(
            referral_id="lgl-1",
            handler=LegalHandler.SOLICITOR,
            handler_id="firm-hart-lee",
            reason="no payment after the final demand",
            referred_by="col-1",
            approved_by="sup-1",
            balance=_usd(650000),
            documents=[DocumentReference(document_id="doc-agreement", kind="agreement")],
        ),
        cases.CaseLegalStepRecorded(
            referral_id="lgl-1",
            step=LegalStep.JUDGMENT,
            on=date(2026, 9, 14),
            court="Kings County Civil Court",
            reference="CV-2026-004512",
            judgment_amount=_usd(650000),
            judgment_interest=_usd(4200),
            costs=_usd(35000),
            documents=[DocumentReference(document_id="doc-judgment-1", kind="judgment")],
            recorded_by="sup-1",
        ),
        cases.CaseVulnerabilityFlagged(
            flag_id="vuln-1",
            vulnerability_type=VulnerabilityType.CAPABILITY,
            vulnerability_sub_type="literacy",
            vulnerability_description="Finds long letters hard to read; asks for short written messages.",
            consent=cases.VulnerabilityConsent(given=True, method=ConsentMethod.VERBAL, at=_AT),
            review_on=date(2026, 6, 1),
            recorded_by="col-1",
            source="call",
        ),
        cases.CaseVulnerabilityReviewed(
            flag_id="vuln-1",
            outcome=VulnerabilityReviewOutcome.CONTINUE,
            vulnerability_type=VulnerabilityType.CAPABILITY,
            consent=cases.VulnerabilityConsent(given=False),
            review_on=date(2026, 9, 1),
            reviewed_by="sup-1",
        ),
        cases.CaseVulnerabilityRemoved(
            flag_id="vuln-1", vulnerability_type=VulnerabilityType.CAPABILITY, removed_by="sup-1"
        ),
        cases.CaseVulnerabilityReviewDue(
            flag_id="vuln-1", vulnerability_type=VulnerabilityType.CAPABILITY, review_on=date(2026, 6, 1)
        ),
        cases.CaseReferredToSpecialist(
            flag_id="vuln-1",
            vulnerability_type=VulnerabilityType.CAPABILITY,
            team="vulnerable-customers",
            rule_id="GB-FCA-VULN-CAPABILITY",
            pack_version="2026.1",
        ),
        cases.CaseBalanceChanged(
            reason=BalanceChangeReason.PAYMENT,
            change=MoneyDelta(delta_minor=-5000, currency="GBP"),
            balance_after=_gbp(122050),
            reference="pay-1",
            # costs -> fees -> interest -> principal: the fees and interest go first
            allocation=[
                cases.PartChange(part=BalancePart.FEES, delta_minor=-2500),
                cases.PartChange(part=BalancePart.INTEREST, delta_minor=-2500),
            ],
            parts_after=cases.BalanceParts(currency="GBP", principal=120000, interest=2050, fees=0, costs=0),
            waterfall="costs-fees-interest-principal",
        ),
        cases.CaseClosed(reason=CloseReason.PAID_IN_FULL, final_balance=_gbp(0)),
        cases.CaseReopened(
            previous_close_reason=CloseReason.PAID_IN_FULL, reason="payment pay-1 reversed", reference="pay-1"
        ),
        cases.CaseRefundDue(amount=_gbp(2000), credit_after=_gbp(2000), reference="pay-2"),
        cases.ErasureCompleted(
            debtor_id="dbt-42",
            trigger="request",
            reason="the debtor asked for their data to be erased after settling",
            legal_basis="UK GDPR Art. 17(1)(a)",
        ),
        cases.PersonalDataDisclosed(
            view="GET /cases/{case_id}/events", reason="complaint CMP-2026-114: the debtor disputes a call"
        ),
        cases.CaseArrangementChanged(kind="plan", arrangement_id="plan-1", status="active"),
        cases.CaseInterestAccrued(
            period_from=date(2026, 11, 1),
            period_to=date(2026, 12, 1),
            annual_rate_bps=2400,
            on_principal=_gbp(120000),
            amount=_gbp(2367),
        ),
        cases.CaseChargeFrozen(
            reason=BalanceChangeReason.INTEREST,
            amount=_gbp(1250),
            hold_type=HoldType.BREATHING_SPACE,
            rule_id="GB-BS-STANDARD",
            citation="Debt Respite Scheme Regulations 2020, regs. 7 and 26",
            reference="int-2026-12",
        ),
        cases.CaseBucketChanged(
            from_bucket="31-60",
            to_bucket="61-90",
            days_past_due=61,
            due_since=date(2026, 9, 29),
            reason="daily ageing",
        ),
        cases.CaseLimitationDated(
            time_barred_at=date(2031, 11, 20),
            rule_id="GB-ENG-LIM-OPEN-ENDED",
            citation="Limitation Act 1980 s.5; s.29(5) (acknowledgment or part payment)",
            starts_on=date(2025, 11, 20),
            restart_kind="payment",
            restart_on=date(2025, 11, 20),
            reason="England and Wales: 6 years for open_ended (credit_card) from 2025-11-20 (payment)",
        ),
        cases.CaseSettlementRecorded(
            settlement_id="stl-1", status="agreed", settlement_amount=_gbp(90000), due_on=date(2027, 1, 15)
        ),
        cases.CaseDebtorUpdated(
            phones=[
                PhoneNumber(
                    number="+447700900456", kind=PhoneKind.MOBILE, consent_to_call=True, consent_to_sms=True
                )
            ]
        ),
        contacts.ContactAttemptedV1(
            attempt_id="att-1",
            channel=Channel.PHONE,
            party=ContactParty.DEBTOR,
            collector_id="usr-alice",
            outcome=ContactOutcome.NO_ANSWER,
            duration_seconds=0,
        ),
        contacts.ContactAttempted(
            attempt_id="att-2",
            channel=Channel.PHONE,
            party=ContactParty.DEBTOR,
            collector_id="usr-alice",
            agency_id=None,
            outcome=ContactOutcome.PROMISE_MADE,
            duration_seconds=312,
            recording_ref="rec-2026-11-29-0002",
        ),
        contacts.ContactBlocked(
            attempt_id="att-3",
            channel=Channel.PHONE,
            party=ContactParty.DEBTOR,
            collector_id="usr-alice",
            rule_id="us.regf.call-frequency",
            citation="12 CFR 1006.14(b)(2)",
            reason="7 call attempts in 7 days",
            rule_pack_id="us-federal",
            rule_pack_version="2026.1",
            next_allowed_at=_AT,
        ),
        contacts.ContactPermitIssued(
            permit_id="pmt-1",
            channel=Channel.PHONE,
            party=ContactParty.DEBTOR,
            collector_id="usr-alice",
            contact_point="+447700900123",
            contact_point_sha256="5b6c0b4c5d0d4b0e7a3b1f6c2a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f10",
            debtor_id="dbt-1",
            not_after=_AT + timedelta(minutes=15),
            expires_at=_AT + timedelta(minutes=30),
            rule_pack_id="gb-fca",
            rule_pack_version="2026.1",
            key_id="pk-3f1a9c0e2b7d4a61",
            signature="A" * 86,
        ),
        contacts.ContactPermitExpired(permit_id="pmt-1", channel=Channel.PHONE, debtor_id="dbt-1"),
        contacts.MessageDeliveryReported(
            attempt_id="att-9",
            permit_id="pmt-9",
            channel=Channel.EMAIL,
            status=contacts.DeliveryStatus.DELIVERED,
            provider_reference="smtp-250-2.0.0",
        ),
        contacts.ValidationNoticeSent(
            attempt_id="att-10",
            permit_id="pmt-10",
            template="us/validation_notice",
            itemization_date=date(2026, 5, 1),
            amount_at_itemization=_usd(120000),
            interest=_usd(3525),
            fees=_usd(2500),
            payments_and_credits=_usd(10000),
            current_amount=_usd(116025),
            validation_period_end=date(2026, 7, 15),
            content_sha256="0" * 64,
        ),
        contacts.VerificationSent(
            dispute_id="dsp-1",
            attempt_id="att-11",
            permit_id="pmt-11",
            channel=Channel.LETTER,
            template="us/verification",
            current_amount=_usd(116025),
            documents=[
                DocumentReference(
                    document_id="doc-stmt-2026-04", kind="statement", description="April 2026 statement"
                )
            ],
            content_sha256="0" * 64,
        ),
        contacts.ContactPreferencesSet(
            preferred_channel=Channel.SMS,
            windows=[contacts.ContactWindow(days=[Weekday.MON, Weekday.WED], start="18:00", end="20:30")],
        ),
        contacts.PromiseMade(
            promise_id="prm-1",
            amount=_gbp(5000),
            due_on=date(2026, 12, 5),
            channel=Channel.PHONE,
            collector_id="usr-alice",
            attempt_id="att-2",
        ),
        contacts.DisputeRaised(
            dispute_id="dsp-1", received_via=Channel.LETTER, reason="not my debt", disputed_amount=None
        ),
        contacts.CeaseRequested(request_id="cease-1", received_via=Channel.EMAIL, note="written request"),
        contacts.ChannelOptedOut(
            channel=Channel.SMS, received_via=Channel.SMS, contact_point="+447700900123"
        ),
        contacts.WorkplaceContactProhibited(
            received_via=Channel.PHONE, note="employer forbids calls at work"
        ),
        contacts.ContactPersonAgreed(
            contact_point="+447700900999", relation="spouse", received_via=Channel.LETTER
        ),
        payments.PaymentReceived(
            payment_id="pay-1",
            amount=_gbp(5000),
            method=PaymentMethod.CARD,
            external_reference="psp-8d1f2",
            received_at=_AT,
        ),
        payments.PaymentHeld(
            payment_id="pay-2",
            amount=_gbp(2500),
            method=PaymentMethod.BANK_TRANSFER,
            external_reference="bank-20261129-0007",
            received_at=_AT,
            reason=payments.UnappliedReason.UNKNOWN_CASE,
        ),
        payments.PromiseTracked(
            promise_id="prm-1",
            amount_promised=_gbp(5000),
            due_on=date(2026, 12, 5),
            made_at=_AT,
            settles_at=datetime(2026, 12, 8, 0, 0, tzinfo=UTC),
        ),
        payments.PaymentReversed(
            payment_id="pay-1",
            amount=_gbp(5000),
            reason=ReversalReason.CHARGEBACK,
            external_reference="cb-771",
            reversed_at=_AT,
        ),
        payments.PromiseKept(
            promise_id="prm-1",
            amount_promised=_gbp(5000),
            amount_paid=_gbp(5000),
            due_on=date(2026, 12, 5),
            payment_ids=["pay-1"],
        ),
        payments.PromiseBroken(
            promise_id="prm-2", amount_promised=_gbp(5000), amount_paid=_gbp(1000), due_on=date(2026, 12, 5)
        ),
        payments.FinancialStatementRecorded(
            statement_id="fs-1",
            statement_date=date(2026, 12, 1),
            source=payments.StatementSource.DEBT_ADVISER,
            household=payments.Household(adults=1, children=2),
            entries=[
                payments.StatementEntry(
                    category=payments.StatementCategory.INCOME,
                    line_item="salary",
                    amount=_gbp(180000),
                    frequency=payments.StatementFrequency.MONTHLY,
                    monthly=_gbp(180000),
                ),
                payments.StatementEntry(
                    category=payments.StatementCategory.FIXED_COSTS,
                    line_item="rent",
                    amount=_gbp(95000),
                    frequency=payments.StatementFrequency.MONTHLY,
                    monthly=_gbp(95000),
                ),
                payments.StatementEntry(
                    category=payments.StatementCategory.FLEXIBLE_COSTS,
                    line_item="food_and_housekeeping",
                    amount=_gbp(9000),
                    frequency=payments.StatementFrequency.WEEKLY,
                    monthly=_gbp(39000),
                ),
                payments.StatementEntry(
                    category=payments.StatementCategory.PRIORITY_DEBTS,
                    line_item="council_tax_arrears",
                    amount=_gbp(5000),
                    frequency=payments.StatementFrequency.MONTHLY,
                    monthly=_gbp(5000),
                ),
                payments.StatementEntry(
                    category=payments.StatementCategory.NON_PRIORITY_DEBTS,
                    line_item="credit_card",
                    amount=_gbp(11000),
                    frequency=payments.StatementFrequency.MONTHLY,
                    monthly=_gbp(11000),
                ),
            ],
            monthly_income=_gbp(180000),
            monthly_outgoings=_gbp(139000),
            monthly_non_priority=_gbp(11000),
            monthly_surplus=MoneyDelta(delta_minor=41000, currency="GBP"),
            monthly_available=MoneyDelta(delta_minor=30000, currency="GBP"),
            recorded_by="usr-alice",
        ),
        payments.PaymentPlanAgreed(
            plan_id="plan-1",
            total=_gbp(30000),
            installments=[
                payments.Installment(number=1, due_on=date(2027, 1, 1), amount=_gbp(10000)),
                payments.Installment(number=2, due_on=date(2027, 2, 1), amount=_gbp(10000)),
                payments.Installment(number=3, due_on=date(2027, 3, 1), amount=_gbp(10000)),
            ],
            channel=Channel.PHONE,
            collector_id="usr-alice",
            affordability=payments.Affordability(
                statement_id="fs-1",
                statement_date=date(2026, 12, 1),
                statement_source=payments.StatementSource.DEBT_ADVISER,
                monthly_available=MoneyDelta(delta_minor=30000, currency="GBP"),
                supported=_gbp(30000),
                asked=_gbp(10000),
                within=True,
            ),
        ),
        payments.InstallmentMissed(
            plan_id="plan-1",
            installment_number=2,
            due_on=date(2027, 2, 1),
            amount_due=_gbp(10000),
            amount_paid=_gbp(0),
        ),
        payments.PaymentPlanCompleted(plan_id="plan-1", total_paid=_gbp(30000)),
        payments.PaymentPlanBroken(plan_id="plan-1", missed_installments=2, reason="two installments missed"),
        payments.SettlementAgreed(
            settlement_id="stl-1",
            settlement_amount=_gbp(90000),
            balance_at_agreement=_gbp(127050),
            due_on=date(2027, 1, 15),
            collector_id="usr-bob",
        ),
        payments.SettlementPaid(
            settlement_id="stl-2",
            settlement_amount=_gbp(90000),
            amount_paid=_gbp(90000),
            balance_at_agreement=_gbp(127050),
            due_on=date(2027, 1, 15),
            payment_ids=["pay-9"],
        ),
        payments.SettlementLapsed(
            settlement_id="stl-1",
            due_on=date(2027, 1, 15),
            amount_paid=_gbp(0),
            reason="not paid by due date",
        ),
        staff.StaffMemberChanged(
            kind=AssigneeKind.COLLECTOR,
            staff_id="usr-alice",
            team="team-gb",
            capacity=400,
            active=True,
            qualifications=[
                staff.StaffQualification(
                    jurisdictions=["GB"], languages=["en"], channels=[Channel.PHONE, Channel.EMAIL]
                )
            ],
        ),
        policies.ExperimentArmStopped(
            experiment_id="standard-vs-sms-first-2026q4",
            arm="challenger-a",
            champion_arm="champion",
            reason="complaints: challenger worse than champion beyond the guard's 2 % margin",
            guard=policies.GuardReading(
                guard="complaints",
                champion_cases=400,
                champion_rate_bp=100,
                challenger_cases=100,
                challenger_rate_bp=900,
                difference_low_bp=310,
                difference_high_bp=1290,
                max_increase_bp=200,
                alpha_bp=1000,
            ),
            stopped_by="case-service",
            enrolled_since=date(2026, 11, 2),
        ),
        policies.PolicyVersionProposed(
            name="collection-policy",
            policy_version=2,
            based_on=1,
            author="mgr-1",
            reason="sms-first challenger for the 31-60 bucket",
            document=_POLICY_DOCUMENT,
            document_sha256=hashlib.sha256(_POLICY_DOCUMENT.encode()).hexdigest(),
            changes=[policies.PolicyChange(path="/ageing/stage_thresholds/late", before="31", after="35")],
        ),
        policies.PolicyVersionApproved(name="rule-pack-US", policy_version=2, approver="mgr-2"),
        policies.PolicyActivated(
            name="collection-policy",
            policy_version=2,
            previous_version=1,
            decision_version="2",
            author="mgr-1",
            approved_by="mgr-2",
            activated_by="mgr-2",
            reason="simulated on November: 3 % of cases change strategy",
            changes=[policies.PolicyChange(path="/ageing/stage_thresholds/late", before="31", after="35")],
            simulation_id="sim-7",
            document=_POLICY_DOCUMENT,
            document_sha256=hashlib.sha256(_POLICY_DOCUMENT.encode()).hexdigest(),
        ),
        integration.AccountPlaced(
            placement_id="plc-2026-11-0001",
            debtor=_DEBTOR,
            account=_ACCOUNT,
            amounts=_AMOUNTS,
            days_past_due=45,
            due_since=date(2026, 10, 15),
            jurisdiction="GB",
            risk_score=None,
        ),
        integration.PlacementUpdated(placement_id="plc-2026-11-0001", account=_ACCOUNT, days_past_due=52),
        integration.PlacementRecalled(
            placement_id="plc-2026-11-0001", account=_ACCOUNT, reason="sold to debt purchaser"
        ),
        integration.PaymentPosted(
            posting_id="post-99",
            account=_ACCOUNT,
            amount=_gbp(2500),
            method=PaymentMethod.DIRECT_DEBIT,
            external_reference="cbs-20261129-99",
            posted_at=_AT,
            value_date=date(2026, 11, 29),
        ),
        integration.ContactReported(
            report_id="agency-call-7781",
            source="agency-dialer-acme",
            account=_ACCOUNT,
            channel=Channel.PHONE,
            outcome=ContactOutcome.NO_ANSWER,
            contacted_at=_AT,
            contact_point="+447700900123",
            agency_id="agy-acme",
        ),
    ]
}
"""Full type string -> an example payload of that type."""

EXAMPLE_CASE_ID: Final = integration.case_id_for_account(_ACCOUNT.creditor_id, _ACCOUNT.account_reference)
EXAMPLE_TIME: Final = _AT
