"""A generated portfolio: accounts of US, GB and CN debtors, written as the bulk import's JSON Lines."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from dcp_events.catalogue.integration import case_id_for_account

CREDITOR = "first-demo-bank"


@dataclass(frozen=True)
class Region:
    jurisdiction: str
    currency: str
    language: str
    zones: tuple[str, ...]
    weight: float
    #: balance range in major units
    balance: tuple[int, int]
    dial: str
    country: str


REGIONS = (
    Region(
        "US",
        "USD",
        "en-US",
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
        0.5,
        (150, 12_000),
        "+1",
        "US",
    ),
    Region("GB", "GBP", "en-GB", ("Europe/London",), 0.25, (100, 9_000), "+44", "GB"),
    Region("CN", "CNY", "zh-CN", ("Asia/Shanghai", "Asia/Urumqi"), 0.25, (800, 60_000), "+86", "CN"),
)
PRODUCTS = ("credit_card", "personal_loan", "auto_loan", "overdraft", "bnpl")
# days past due at placement -> buckets 1-30, 31-60, 61-90, 91-180, 181+
DPD_BANDS = (((1, 30), 0.42), ((31, 60), 0.25), ((61, 90), 0.15), ((91, 180), 0.12), ((181, 400), 0.06))
# How each debtor behaves once reached (seeded per account).
PERSONAS = (
    ("pays_in_full", 0.10),
    ("pays_in_part", 0.10),
    ("promise_keeper", 0.18),
    ("promise_breaker", 0.12),
    ("plan", 0.08),
    ("settlement", 0.06),
    ("disputes", 0.05),
    ("ceases", 0.03),
    ("self_cures", 0.05),  # pays through core banking without being asked
    ("unresponsive", 0.23),
)
FIRST = {
    "US": (
        "James",
        "Maria",
        "Robert",
        "Linda",
        "Michael",
        "Patricia",
        "David",
        "Jennifer",
        "Carlos",
        "Aisha",
    ),
    "GB": ("Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Mia", "Arjun", "Sophie"),
    "CN": ("Wei", "Fang", "Lei", "Jing", "Min", "Yan", "Jun", "Hui", "Tao", "Xin"),
}
LAST = {
    "US": ("Smith", "Johnson", "Garcia", "Brown", "Davis", "Miller", "Lopez", "Wilson", "Clark", "Young"),
    "GB": ("Jones", "Taylor", "Evans", "Thomas", "Roberts", "Walker", "Patel", "Wright", "Hughes", "Khan"),
    "CN": ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou"),
}
CITIES = {
    "America/New_York": ("New York", "NY", "10001"),
    "America/Chicago": ("Chicago", "IL", "60601"),
    "America/Denver": ("Denver", "CO", "80202"),
    "America/Los_Angeles": ("Los Angeles", "CA", "90012"),
    "Europe/London": ("London", None, "EC1A 1BB"),
    "Asia/Shanghai": ("Shanghai", "Shanghai", "200000"),
    "Asia/Urumqi": ("Urumqi", "Xinjiang", "830000"),
}


@dataclass
class Account:
    """One generated account, what the demo knows about it, and how its debtor behaves."""

    row: dict[str, Any]
    case_id: str
    region: Region
    persona: str
    via_kafka: bool
    balance_minor: int

    @property
    def jurisdiction(self) -> str:
        return self.region.jurisdiction

    @property
    def currency(self) -> str:
        return self.region.currency


def _pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def generate(count: int, seed: int, batch: str, today: date, kafka_share: float = 0.15) -> list[Account]:
    """`count` accounts; `batch` makes the account references unique per run (the clock's start date)."""
    rng = random.Random(seed)
    accounts: list[Account] = []
    for n in range(count):
        region = _pick(rng, tuple((r, r.weight) for r in REGIONS))
        zone = rng.choice(region.zones)
        dpd_range = _pick(rng, DPD_BANDS)
        dpd = rng.randint(*dpd_range)
        principal = rng.randint(*region.balance) * 100
        interest = int(principal * rng.uniform(0.0, 0.12))
        fees = rng.choice((0, 0, 2500, 3500)) if region.jurisdiction != "CN" else rng.choice((0, 5000))
        total = principal + interest + fees
        reference = f"{batch}-{n:06d}"
        first, last = rng.choice(FIRST[region.jurisdiction]), rng.choice(LAST[region.jurisdiction])
        name = f"{last} {first}" if region.jurisdiction == "CN" else f"{first} {last}"
        city, state, postal = CITIES[zone]
        if region.jurisdiction == "US":
            phone = f"+1{rng.choice(('212', '312', '303', '213', '415'))}555{rng.randint(1000, 9999)}"
        elif region.jurisdiction == "GB":
            phone = f"+447700{rng.randint(900000, 900999)}"
        else:
            phone = f"+86138{rng.randint(10_000_000, 99_999_999)}"
        row: dict[str, Any] = {
            "creditor_id": CREDITOR,
            "account_reference": reference,
            "product": rng.choice(PRODUCTS),
            "placement_id": f"plc-{reference}",
            "debtor_id": f"dbt-{reference}",
            "full_name": name,
            "language": region.language,
            "time_zone": zone,
            "time_zone_source": rng.choice(("address", "address", "phone_area_code", "declared")),
            "phone": phone,
            "phone_kind": "landline" if rng.random() < 0.15 else "mobile",
            "consent_to_call": rng.random() < 0.92,
            "consent_to_sms": rng.random() < 0.6,
            "email": f"{first.lower()}.{last.lower()}.{n}@example.com",
            "consent_to_email": rng.random() < 0.7,
            "address_line1": f"{rng.randint(1, 999)} Demo Street",
            "city": city,
            "region": state,
            "postal_code": postal,
            "country": region.country,
            "currency": region.currency,
            "principal_minor": principal,
            "interest_minor": interest,
            "fees_minor": fees,
            "total_balance_minor": total,
            "due_since": (today - timedelta(days=dpd)).isoformat(),
            "jurisdiction": region.jurisdiction,
            "risk_score": rng.randint(250, 900),
        }
        accounts.append(
            Account(
                row=row,
                case_id=case_id_for_account(CREDITOR, reference),
                region=region,
                persona=_pick(rng, PERSONAS),
                via_kafka=rng.random() < kafka_share,
                balance_minor=total,
            )
        )
    return accounts


def write_jsonl(accounts: list[Account], path: Path) -> Path:
    """The import file (the format `POST /imports?format=jsonl` accepts), without empty keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for account in accounts:
            out.write(json.dumps({k: v for k, v in account.row.items() if v is not None}) + "\n")
    return path
