"""Quiet hours, from the rule text: US 08:00-21:00 (Reg F 1006.6(b)(1)(i)), GB 08:00-21:00 by default
(CONC 7.9), CN 08:00-22:00 (NIFA), all in the debtor's own zone, on normal days and on both
daylight-saving transition days. Both ends of a window are allowed (a contact exactly at 21:00 is
not "after 21:00"); one second outside is refused, and the refusal names the next opening."""

from __future__ import annotations

from datetime import time

import pytest

from dcp_compliance import Channel, LocalWindow, Verdict, Weekday

from .helpers import facts, local, run, utc

NY, LA, LON, SHA = "America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Shanghai"

# (pack, zone, local wall time at the debtor, allowed?, next allowed instant in UTC when refused)
CASES = [
    # New York, normal day (EDT, UTC-4)
    ("US", NY, "2026-06-10 07:59:59", False, "2026-06-10 12:00"),
    ("US", NY, "2026-06-10 08:00:00", True, None),
    ("US", NY, "2026-06-10 21:00:00", True, None),
    ("US", NY, "2026-06-10 21:00:01", False, "2026-06-11 12:00"),
    ("US", NY, "2026-06-10 23:30:00", False, "2026-06-11 12:00"),
    # New York, spring forward 2026-03-08: 02:00 EST -> 03:00 EDT; 08:00 that morning is 12:00Z
    ("US", NY, "2026-03-08 01:30:00", False, "2026-03-08 12:00"),
    ("US", NY, "2026-03-08 07:59:00", False, "2026-03-08 12:00"),
    ("US", NY, "2026-03-08 08:00:00", True, None),
    ("US", NY, "2026-03-07 21:30:00", False, "2026-03-08 12:00"),  # evening before: EST, next morning EDT
    ("US", NY, "2026-03-08 21:00:00", True, None),
    ("US", NY, "2026-03-08 21:00:01", False, "2026-03-09 12:00"),
    # New York, fall back 2026-11-01: 02:00 EDT -> 01:00 EST; 08:00 that morning is 13:00Z
    ("US", NY, "2026-11-01 01:30:00", False, "2026-11-01 13:00"),
    ("US", NY, "2026-11-01 07:59:59", False, "2026-11-01 13:00"),
    ("US", NY, "2026-11-01 08:00:00", True, None),
    ("US", NY, "2026-10-31 22:00:00", False, "2026-11-01 13:00"),  # evening before: EDT, next morning EST
    ("US", NY, "2026-11-01 21:00:00", True, None),
    ("US", NY, "2026-11-01 21:00:01", False, "2026-11-02 13:00"),
    # Los Angeles, normal day (PDT, UTC-7) and both transition days
    ("US", LA, "2026-07-01 07:59:59", False, "2026-07-01 15:00"),
    ("US", LA, "2026-07-01 08:00:00", True, None),
    ("US", LA, "2026-07-01 21:00:01", False, "2026-07-02 15:00"),
    ("US", LA, "2026-03-08 07:59:59", False, "2026-03-08 15:00"),
    ("US", LA, "2026-03-08 08:00:00", True, None),
    ("US", LA, "2026-03-07 21:00:01", False, "2026-03-08 15:00"),
    ("US", LA, "2026-11-01 07:59:59", False, "2026-11-01 16:00"),
    ("US", LA, "2026-11-01 08:00:00", True, None),
    ("US", LA, "2026-10-31 21:00:01", False, "2026-11-01 16:00"),
    # London under the GB pack, normal day (GMT) and both transition days
    ("GB", LON, "2026-01-14 07:59:59", False, "2026-01-14 08:00"),
    ("GB", LON, "2026-01-14 08:00:00", True, None),
    ("GB", LON, "2026-01-14 21:00:00", True, None),
    ("GB", LON, "2026-01-14 21:00:01", False, "2026-01-15 08:00"),
    # 2026-03-29: 01:00 GMT -> 02:00 BST; 08:00 BST is 07:00Z
    ("GB", LON, "2026-03-29 07:59:59", False, "2026-03-29 07:00"),
    ("GB", LON, "2026-03-29 08:00:00", True, None),
    ("GB", LON, "2026-03-28 21:00:01", False, "2026-03-29 07:00"),
    ("GB", LON, "2026-03-29 21:00:01", False, "2026-03-30 07:00"),
    # 2026-10-25: 02:00 BST -> 01:00 GMT; 08:00 GMT is 08:00Z
    ("GB", LON, "2026-10-25 01:30:00", False, "2026-10-25 08:00"),
    ("GB", LON, "2026-10-25 07:59:59", False, "2026-10-25 08:00"),
    ("GB", LON, "2026-10-25 08:00:00", True, None),
    ("GB", LON, "2026-10-24 21:00:01", False, "2026-10-25 08:00"),
    # Shanghai under the CN pack (UTC+8, no daylight saving: the US and GB transition days change nothing)
    ("CN", SHA, "2026-06-10 07:59:59", False, "2026-06-10 00:00"),
    ("CN", SHA, "2026-06-10 08:00:00", True, None),
    ("CN", SHA, "2026-06-10 21:30:00", True, None),  # allowed in CN, 21:00 is the US/GB limit
    ("CN", SHA, "2026-06-10 22:00:00", True, None),
    ("CN", SHA, "2026-06-10 22:00:01", False, "2026-06-11 00:00"),
    ("CN", SHA, "2026-03-08 07:59:59", False, "2026-03-08 00:00"),
    ("CN", SHA, "2026-03-08 08:00:00", True, None),
    ("CN", SHA, "2026-11-01 22:00:01", False, "2026-11-02 00:00"),
    # Zones across packs: the pack's hours apply in whatever zone the debtor lives
    ("US", SHA, "2026-06-10 21:30:00", False, "2026-06-11 00:00"),
    ("CN", NY, "2026-03-08 07:59:00", False, "2026-03-08 12:00"),
]


@pytest.mark.parametrize(
    ("pack", "zone", "wall", "allowed", "next_utc"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES]
)
def test_contact_hours_in_the_debtors_zone(
    pack: str, zone: str, wall: str, allowed: bool, next_utc: str | None
) -> None:
    decision = run(pack, local(zone, wall), case=facts(pack, zone))
    if allowed:
        assert decision.verdict is Verdict.ALLOW, decision.reason
        return
    assert decision.verdict is Verdict.DENY
    assert decision.rule_id == f"{pack}-{'NIFA' if pack == 'CN' else 'REGF' if pack == 'US' else 'CONC'}-TIME"
    assert decision.citation
    assert decision.next_allowed_at == utc(next_utc or "")
    assert decision.time_zone == zone
    assert decision.time_zone_source is not None


def test_the_repeated_hour_of_the_fall_back_day_is_quiet_both_times() -> None:
    first = utc("2026-11-01 05:30")  # 01:30 EDT
    second = utc("2026-11-01 06:30")  # 01:30 EST
    for moment in (first, second):
        decision = run("US", moment, case=facts("US", NY))
        assert decision.rule_id == "US-REGF-TIME"
        assert decision.next_allowed_at == utc("2026-11-01 13:00")


def test_letters_are_not_bound_to_contact_hours() -> None:
    assert run("US", local(NY, "2026-06-10 23:30"), channel=Channel.LETTER).allowed
    assert not run("US", local(NY, "2026-06-10 23:30"), channel=Channel.SMS).allowed
    assert not run("US", local(NY, "2026-06-10 23:30"), channel=Channel.EMAIL).allowed


MON_EVENING = (LocalWindow(days=frozenset({Weekday.MON}), start=time(18, 0), end=time(20, 30)),)
LATE_WINDOW = (LocalWindow(days=frozenset(Weekday), start=time(20, 0), end=time(23, 0)),)


def test_gb_customer_request_about_when_replaces_the_default_hours() -> None:
    case = facts("GB", windows=MON_EVENING)
    refused = run("GB", local(LON, "2026-06-08 10:00"), case=case)  # a Monday morning
    assert refused.rule_id == "GB-CONC-TIME"
    assert refused.next_allowed_at == local(LON, "2026-06-08 18:00")
    assert run("GB", local(LON, "2026-06-08 19:00"), case=case).allowed
    tuesday = run("GB", local(LON, "2026-06-09 19:00"), case=case)
    assert tuesday.next_allowed_at == local(LON, "2026-06-15 18:00")


def test_us_inconvenient_times_named_by_the_consumer_only_narrow_the_hours() -> None:
    case = facts("US", windows=LATE_WINDOW)
    assert run("US", local(NY, "2026-06-10 20:30"), case=case).allowed
    late = run("US", local(NY, "2026-06-10 22:00"), case=case)
    assert late.rule_id == "US-REGF-TIME"
    assert late.next_allowed_at == local(NY, "2026-06-11 20:00")
    assert not run("US", local(NY, "2026-06-10 12:00"), case=case).allowed


def test_cn_debtor_agreement_allows_contact_after_22() -> None:
    case = facts("CN", windows=LATE_WINDOW)
    assert run("CN", local(SHA, "2026-06-10 22:30"), case=case).allowed
    assert not run("CN", local(SHA, "2026-06-10 10:00"), case=case).allowed
