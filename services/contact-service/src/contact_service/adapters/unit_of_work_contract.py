"""The contract of the contact service's unit of work: what the handlers and queries rely on of the
ports, passed by the PostgreSQL adapter (tests/integration) and the in-memory one (tests/unit) alike,
so the fast application tests run on read models that behave like the database.

Subclass `ContactUnitOfWorkContract` with a `begin` fixture: a function returning an async context
manager that yields a unit of work in a new transaction (committed on exit, rolled back on an
exception).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from contact_service.application.ports import ContactRecord, MessageRecord, PermitRecord, PromiseRecord
from contact_service.domain.contacts import CaseContacts
from contact_service.domain.staff import StaffEntry
from dcp_compliance import CaseFacts, ContactPurpose, Decision, Verdict
from dcp_compliance.model import ContactPoint
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.cases import CaseOpened
from dcp_events.catalogue.contacts import CeaseRequested
from dcp_events.catalogue.debtor import Account, Debtor, EmailAddress, PhoneNumber, PostalAddress
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty, PhoneKind, TimeZoneSource
from dcp_events.catalogue.staff import StaffQualification

NOW = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


def facts(case_id: str, debtor_id: str, jurisdiction: str = "US") -> CaseFacts:
    return CaseFacts(
        case_id=case_id,
        debtor_id=debtor_id,
        jurisdiction=jurisdiction,
        time_zone="America/New_York",
        time_zone_source=TimeZoneSource.ADDRESS,
        due_since=date(2026, 4, 26),
    )


def decision(verdict: Verdict = Verdict.ALLOW, rule_id: str | None = None) -> Decision:
    return Decision(
        verdict=verdict,
        rule_id=rule_id,
        citation="12 CFR 1006.6(b)(1)(i)" if rule_id else None,
        reason="refused" if rule_id else None,
        pack_id="us-regf",
        pack_version="2026.1",
        jurisdiction="US",
        time_zone="America/New_York",
        time_zone_source=TimeZoneSource.ADDRESS,
        decided_at=NOW,
    )


def contact(
    attempt_id: str,
    case_id: str,
    debtor_id: str,
    at: datetime,
    *,
    verdict: Verdict = Verdict.ALLOW,
    party: ContactParty = ContactParty.DEBTOR,
    point: str | None = "+12025550101",
) -> ContactRecord:
    allowed = verdict is Verdict.ALLOW
    return ContactRecord(
        attempt_id=attempt_id,
        case_id=case_id,
        debtor_id=debtor_id,
        at=at,
        decision=decision(verdict, None if allowed else "US-REGF-TIME"),
        channel=Channel.PHONE,
        party=party,
        purpose=ContactPurpose.COLLECTION
        if party is ContactParty.DEBTOR
        else ContactPurpose.LOCATION_INFORMATION,
        outcome=ContactOutcome.NO_ANSWER if allowed else None,
        collector_id="col-1",
        agency_id=None,
        contact_point=point,
        duration_seconds=30 if allowed else None,
        recording_ref=None,
    )


def ids() -> tuple[str, str]:
    tag = uuid4().hex[:10]
    return f"case-{tag}", f"dbt-{tag}"


class ContactUnitOfWorkContract:
    async def test_a_case_is_inserted_once_read_back_and_updated(self, begin: Any) -> None:
        case_id, debtor = ids()
        async with begin() as uow:
            await uow.insert_case(facts(case_id, debtor), "USD", 250_000, 400)
            await uow.insert_case(facts(case_id, "someone-else"), "EUR", 1, None)  # a repeat: nothing
        async with begin() as uow:
            case = await uow.case(case_id)
            assert case is not None
            assert (case.debtor_id, case.currency, case.balance_minor, case.risk_score) == (
                debtor,
                "USD",
                250_000,
                400,
            )
            assert (case.status, case.assignee_id, case.treatment) == ("open", None, [])
            assert case.facts == facts(case_id, debtor)
            closed = case.facts.model_copy(update={"workplace_contact_prohibited": True})
            await uow.update_case(
                case_id,
                {
                    "facts": closed,
                    "assignee_kind": "collector",
                    "assignee_id": "col-1",
                    "strategy_assigned_at": NOW,
                    "treatment": [{"day_offset": 0, "channel": "sms", "template": "t"}],
                },
            )
        async with begin() as uow:
            case = await uow.case(case_id, for_update=True)
            assert case is not None and case.facts.workplace_contact_prohibited
            assert (case.assignee_kind, case.assignee_id, case.strategy_assigned_at) == (
                "collector",
                "col-1",
                NOW,
            )
            assert case.treatment == [{"day_offset": 0, "channel": "sms", "template": "t"}]
            assert [c.case_id for c in await uow.cases_assigned_to([("collector", "col-1")])] == [case_id]
            assert await uow.case("never-opened") is None

    async def test_a_staff_entry_is_kept_as_the_directory_last_said(self, begin: Any) -> None:
        staff_id = f"col-{uuid4().hex[:8]}"
        first = StaffEntry(staff_id, "collector", True, (
            StaffQualification(jurisdictions=["US"], languages=["en"], channels=[Channel.PHONE]),
        ))  # fmt: skip
        async with begin() as uow:
            assert await uow.staff_member(staff_id) is None
            await uow.record_staff_member(first, NOW)
        later = dataclasses.replace(first, active=False, qualifications=())
        async with begin() as uow:
            assert await uow.staff_member(staff_id) == first
            await uow.record_staff_member(later, NOW + timedelta(hours=1))
        async with begin() as uow:
            assert await uow.staff_member(staff_id) == later

    async def test_cases_are_read_and_written_many_at_a_time(self, begin: Any) -> None:
        (first, debtor), (second, other) = ids(), ids()
        async with begin() as uow:
            await uow.insert_case(facts(first, debtor), "USD", 500, 10)
        async with begin() as uow:
            rows = await uow.cases([first, second, "never-opened"])
            assert list(rows) == [first]
            await uow.lock_debtors([other, debtor, debtor])
            new = dataclasses.replace(rows[first], case_id=second, debtor_id=other, balance_minor=7)
            again = dataclasses.replace(rows[first], balance_minor=1)  # known already: left as it is
            moved = dataclasses.replace(
                rows[first],
                status="closed",
                assignee_kind="agency",
                assignee_id="ag-1",
                balance_minor=0,
                strategy_assigned_at=NOW,
                treatment=[{"day_offset": 2, "channel": "email", "template": "t2"}],
                facts=rows[first].facts.model_copy(update={"workplace_contact_prohibited": True}),
            )
            await uow.save_cases([new, again], [moved])
        async with begin() as uow:
            rows = await uow.cases([second, first], for_update=True)
            assert rows[first] == moved
            assert rows[second] == new

    async def test_the_open_cases_of_a_debtor_in_id_order(self, begin: Any) -> None:
        _, debtor = ids()
        tag = uuid4().hex[:8]
        async with begin() as uow:
            for case_id in (f"b-{tag}", f"a-{tag}", f"c-{tag}"):
                await uow.insert_case(facts(case_id, debtor), "USD", 100, None)
            await uow.update_case(f"c-{tag}", {"status": "closed"})
            await uow.update_case(f"a-{tag}", {"assignee_kind": "team", "assignee_id": f"t-{tag}"})
        async with begin() as uow:
            await uow.lock_debtor(debtor)
            assert await uow.open_cases_of_debtor(debtor) == [f"a-{tag}", f"b-{tag}"]
            assert [c.case_id for c in await uow.cases_assigned_to([("team", f"t-{tag}")])] == [f"a-{tag}"]
            await uow.update_case(f"a-{tag}", {"status": "closed"})
        async with begin() as uow:
            assert await uow.cases_assigned_to([("team", f"t-{tag}")]) == []

    async def test_the_history_counts_allowed_contacts_in_the_window_and_every_one_with_the_person_asked(
        self, begin: Any
    ) -> None:
        case_id, debtor = ids()
        old = NOW - timedelta(days=40)
        async with begin() as uow:
            await uow.record_contact(contact(f"{case_id}-recent", case_id, debtor, NOW))
            await uow.record_contact(contact(f"{case_id}-old", case_id, debtor, old))
            await uow.record_contact(
                contact(f"{case_id}-refused", case_id, debtor, NOW, verdict=Verdict.DENY)
            )
            await uow.record_contact(
                contact(f"{case_id}-3p", case_id, debtor, old, party=ContactParty.THIRD_PARTY, point="aunt")
            )
            await uow.record_contact(contact(f"{case_id}-other", "case-x", f"{debtor}-other", NOW))
        since = NOW - timedelta(days=8)
        async with begin() as uow:
            window = await uow.history(debtor, since)
            asked = await uow.history(debtor, since, "aunt")
            asked_again = await uow.history(debtor, since, "uncle")
        assert {e.attempt_id for e in window} == {f"{case_id}-recent"}
        assert {e.attempt_id for e in asked} == {f"{case_id}-recent", f"{case_id}-3p"}
        assert {e.attempt_id for e in asked_again} == {f"{case_id}-recent"}
        [entry] = window
        assert (entry.channel, entry.party, entry.outcome, entry.at) == (
            Channel.PHONE,
            ContactParty.DEBTOR,
            ContactOutcome.NO_ANSWER,
            NOW,
        )

    async def test_contact_rows_are_found_by_attempt_id_and_listed_newest_first(self, begin: Any) -> None:
        case_id, debtor = ids()
        async with begin() as uow:
            await uow.record_contact(contact(f"{case_id}-1", case_id, debtor, NOW - timedelta(hours=2)))
            await uow.record_contact(contact(f"{case_id}-3", case_id, debtor, NOW))
            await uow.record_contact(contact(f"{case_id}-2", case_id, debtor, NOW, verdict=Verdict.DENY))
        async with begin() as uow:
            row = await uow.find_contact(f"{case_id}-2")
            listed = await uow.contacts_of_case(case_id, 2)
            recent = await uow.recent_contacts_of_case(case_id, NOW - timedelta(hours=1))
            assert await uow.find_contact("never-attempted") is None
        assert row is not None
        assert (row["decision"], row["rule_id"], row["outcome"], row["pack_version"]) == (
            "deny",
            "US-REGF-TIME",
            None,
            "2026.1",
        )
        assert (row["channel"], row["party"], row["purpose"], row["at"]) == (
            "phone",
            "debtor",
            "collection",
            NOW,
        )
        assert [r["attempt_id"] for r in listed] == [f"{case_id}-2", f"{case_id}-3"]
        assert recent == [(NOW, Channel.PHONE)]

    async def test_an_erasure_removes_the_contact_points_of_one_case_only(self, begin: Any) -> None:
        case_id, debtor = ids()
        async with begin() as uow:
            await uow.record_contact(contact(f"{case_id}-1", case_id, debtor, NOW))
            await uow.record_contact(contact(f"{case_id}-2", f"{case_id}-other", debtor, NOW))
        async with begin() as uow:
            await uow.erase_contact_points(case_id)
        async with begin() as uow:
            erased = await uow.find_contact(f"{case_id}-1")
            kept = await uow.find_contact(f"{case_id}-2")
        assert erased is not None and erased["contact_point"] is None and erased["decision"] == "allow"
        assert kept is not None and kept["contact_point"] == "+12025550101"

    async def test_promises_are_recorded_and_settled(self, begin: Any) -> None:
        case_id, _ = ids()
        async with begin() as uow:
            for n, due in enumerate((date(2026, 6, 12), date(2026, 6, 20))):
                await uow.insert_promise(
                    PromiseRecord(f"{case_id}-p{n}", case_id, 5000, "USD", due, NOW, "col-1")
                )
        async with begin() as uow:
            await uow.set_promise_status(f"{case_id}-p1", "broken")
            await uow.set_promise_status("never-promised", "kept")
        async with begin() as uow:
            assert sorted(await uow.promises_of_case(case_id)) == [
                (date(2026, 6, 12), "open"),
                (date(2026, 6, 20), "broken"),
            ]

    async def test_a_failed_unit_of_work_keeps_nothing_and_runs_no_after_commit(self, begin: Any) -> None:
        case_id, debtor = ids()
        ran: list[str] = []
        with pytest.raises(RuntimeError):
            async with begin() as uow:
                await uow.insert_case(facts(case_id, debtor), "USD", 100, None)
                await uow.record_contact(contact(f"{case_id}-1", case_id, debtor, NOW))
                contacts = CaseContacts.new(case_id)
                contacts.record_request(CeaseRequested(request_id="r-1", received_via=Channel.LETTER), NOW)
                await uow.contacts.save(contacts, uow.tx, jurisdiction="US")
                uow.after_commit(lambda: ran.append("rolled back"))
                raise RuntimeError("the command failed")
        assert ran == []
        async with begin() as uow:
            assert await uow.case(case_id) is None
            assert await uow.find_contact(f"{case_id}-1") is None
            assert await uow.contacts.find(case_id, uow.tx) is None
            uow.after_commit(lambda: ran.append("committed"))
            assert ran == []
        assert ran == ["committed"]

    async def test_a_live_permit_counts_in_the_history_until_it_is_used_or_expires(self, begin: Any) -> None:
        case_id, debtor = ids()
        async with begin() as uow:
            await uow.insert_case(facts(case_id, debtor), "USD", 500, 10)
            await uow.insert_permit(permit(f"{case_id}-p1", case_id, debtor))
            await uow.insert_permit(permit(f"{case_id}-p2", case_id, debtor))
            await uow.schedule_timer("contact-permit-expiry", f"{case_id}-p1", NOW + timedelta(minutes=30))
        async with begin() as uow:
            found = await uow.find_permit(f"{case_id}-p1")
            assert found == permit(f"{case_id}-p1", case_id, debtor)
            history = await uow.history(debtor, NOW - timedelta(days=1))
            assert sorted(e.attempt_id for e in history) == [f"{case_id}-p1", f"{case_id}-p2"]
            assert {e.outcome for e in history} == {ContactOutcome.RIGHT_PARTY_CONTACT}
            assert await uow.pending_timer_keys("contact-permit-expiry", case_id) == [f"{case_id}-p1"]
            await uow.close_permit(f"{case_id}-p1", "used", "att-1", NOW + timedelta(minutes=2))
            await uow.close_permit(f"{case_id}-p2", "expired")
            await uow.close_permit(f"{case_id}-p2", "used", "att-late")  # closed already: stays expired
            await uow.cancel_timer("contact-permit-expiry", f"{case_id}-p1")
        async with begin() as uow:
            assert await uow.history(debtor, NOW - timedelta(days=1)) == []
            used, expired = await uow.find_permit(f"{case_id}-p1"), await uow.find_permit(f"{case_id}-p2")
            assert used is not None and (used.status, used.attempt_id) == ("used", "att-1")
            assert expired is not None and (expired.status, expired.attempt_id) == ("expired", None)
            assert await uow.pending_timer_keys("contact-permit-expiry", case_id) == []
            assert await uow.find_permit("never-issued") is None

    async def test_a_channels_report_outlives_the_record_of_the_hand_over(self, begin: Any) -> None:
        case_id, _debtor = ids()
        attempt = f"att-{case_id}"
        sending = MessageRecord(
            attempt, "p", case_id, Channel.SMS, "t", None, None, "sending", None, NOW, NOW
        )
        async with begin() as uow:
            await uow.record_message(sending)
            await uow.record_message(
                dataclasses.replace(sending, status="delivered", provider_reference="SM1")
            )
            later = NOW + timedelta(seconds=1)
            await uow.record_message(
                dataclasses.replace(sending, status="sent", content_sha256="ab", updated_at=later)
            )
        async with begin() as uow:
            message = await uow.find_message_of_attempt(attempt)
            assert message is not None
            assert (message.status, message.provider_reference, message.content_sha256) == (
                "delivered",
                "SM1",
                "ab",
            )
            assert await uow.find_message(Channel.SMS, "SM1") == message
            assert [m.attempt_id for m in await uow.messages_of_case(case_id)] == [attempt]
            assert (await uow.message_counts()).get(("sms", "delivered"), 0) >= 1

    async def test_reports_of_unknown_cases_are_kept_until_taken(self, begin: Any) -> None:
        case_id, other = ids()[0], ids()[0]
        async with begin() as uow:
            await uow.park_report("ext-1" + case_id, case_id, {"report_id": "r1"}, NOW)
            await uow.park_report("ext-1" + case_id, case_id, {"report_id": "again"}, NOW)  # a repeat
            await uow.park_report("ext-2" + case_id, case_id, {"report_id": "r2"}, NOW + timedelta(seconds=1))
            await uow.park_report("ext-3" + other, other, {"report_id": "r3"}, NOW)
        async with begin() as uow:
            taken = await uow.take_parked_reports([case_id, "never-reported"])
            assert taken == [(case_id, {"report_id": "r1"}), (case_id, {"report_id": "r2"})]
        async with begin() as uow:
            assert await uow.take_parked_reports([case_id]) == []
            assert await uow.take_parked_reports([other]) == [(other, {"report_id": "r3"})]

    async def test_the_cases_reached_at_a_contact_point(self, begin: Any) -> None:
        case_id, debtor = ids()
        point = f"+1202{uuid4().int % 10_000_000:07d}"
        reached = facts(case_id, debtor).model_copy(
            update={
                "contact_points": (
                    ContactPoint(value=point, usable_for=frozenset({Channel.SMS}), consented=frozenset()),
                )
            }
        )
        async with begin() as uow:
            await uow.insert_case(reached, "USD", 500, 10)
        async with begin() as uow:
            assert [c.case_id for c in await uow.cases_reached_at(point)] == [case_id]
            assert await uow.cases_reached_at("+10000000000") == []


def permit(permit_id: str, case_id: str, debtor_id: str) -> PermitRecord:
    return PermitRecord(
        permit_id=permit_id,
        case_id=case_id,
        debtor_id=debtor_id,
        issued_at=NOW,
        not_after=NOW + timedelta(minutes=15),
        expires_at=NOW + timedelta(minutes=30),
        channel=Channel.PHONE,
        party=ContactParty.DEBTOR,
        purpose=ContactPurpose.COLLECTION,
        collector_id="col-1",
        agency_id=None,
        contact_point="+12025550101",
        contact_point_sha256="0" * 64,
        pack_id="us-regf",
        pack_version="2026.1",
        key_id="k",
        signature="s",
    )


ZONES = {"US": "America/New_York", "GB": "Europe/London", "CN": "Asia/Shanghai", "FR": "Europe/Paris"}
CURRENCY = {"US": "USD", "GB": "GBP", "CN": "CNY", "FR": "EUR"}


def case_opened(
    case_id: str,
    jurisdiction: str = "US",
    *,
    debtor_id: str | None = None,
    balance_minor: int = 250_000,
    risk_score: int | None = 400,
) -> CaseOpened:
    """The `CaseOpened` of a card debt 45 days past due, its debtor reachable by phone, SMS and
    e-mail with consent, in the jurisdiction's usual time zone (for the application and
    integration tests)."""
    money = Money(amount_minor=balance_minor, currency=CURRENCY[jurisdiction])
    zero = Money(amount_minor=0, currency=CURRENCY[jurisdiction])
    return CaseOpened(
        debtor=Debtor(
            debtor_id=debtor_id or f"dbt-{uuid4().hex[:10]}",
            full_name="Pat Doe",
            phones=[
                PhoneNumber(
                    number="+12025550101", kind=PhoneKind.MOBILE, consent_to_call=True, consent_to_sms=True
                )
            ],
            emails=[EmailAddress(address="pat@example.org", consent_to_email=True)],
            address=PostalAddress(
                lines=["12 Elm Street"],
                city="Springfield",
                region="IL",
                postal_code="62701",
                country=jurisdiction,
            ),
            language="en",
            time_zone=ZONES[jurisdiction],
            time_zone_source=TimeZoneSource.ADDRESS,
        ),
        account=Account(creditor_id="bank", account_reference=case_id, product="card"),
        amounts=CaseAmounts(principal=money, interest=zero, fees=zero, total_balance=money),
        days_past_due=45,
        due_since=date(2026, 4, 26),
        jurisdiction=jurisdiction,
        risk_score=risk_score,
    )
