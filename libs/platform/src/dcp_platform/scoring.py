"""Scoring learnt from the platform's own outcomes, as policy data: the features of a case at a moment,
and the logistic models case-service trains on them (`case-service train-propensity`) and publishes as
versions of the `propensity-model` policy; contact-service serves the active one in-process.

One feature code for training and serving, so a model sees at serving time what it was trained on:

- **pay**: the chance of a payment within `horizon_days`, from the case as it stood (balance, risk
  score, days past due, the contacts and right-party contacts of the last 30 days by channel, the
  days since the last contact, promises made, kept and broken);
- **contact**: the chance that an attempt reaches the debtor (a right-party contact), from the same
  case features plus the channel and the debtor's local hour band: what channel and hour to try,
  among those the gate allows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

PERSON_AND_MESSAGE_CHANNELS = ("phone", "sms", "email", "letter", "field_visit")
HOUR_BANDS: tuple[tuple[str, int, int], ...] = (
    ("08-11", 8, 11),
    ("11-14", 11, 14),
    ("14-17", 14, 17),
    ("17-21", 17, 21),
)
"""The debtor's local hour bands a contact is scored in (the hours the packs allow at the widest)."""

CASE_FEATURES = (
    "log_balance",
    "risk_score",
    "days_past_due",
    "contacts_30d",
    "right_party_contacts_30d",
    "phone_30d",
    "sms_30d",
    "email_30d",
    "letter_30d",
    "days_since_contact",
    "promises_made",
    "promises_kept",
    "promises_broken",
)


def case_feature_names(segments: Sequence[str] = ()) -> tuple[str, ...]:
    """The case features, then one per segment of the collection policy the model was trained under
    (the segment the case was in at the moment)."""
    return (*CASE_FEATURES, *(f"segment_{s}" for s in segments))


def contact_feature_names(segments: Sequence[str] = ()) -> tuple[str, ...]:
    return (
        *case_feature_names(segments),
        *(f"channel_{c}" for c in PERSON_AND_MESSAGE_CHANNELS),
        *(f"hours_{name}" for name, _, _ in HOUR_BANDS),
    )


CONTACT_FEATURES = contact_feature_names()


def hour_band(local_hour: int) -> str | None:
    for name, start, end in HOUR_BANDS:
        if start <= local_hour < end:
            return name
    return None


@dataclass(frozen=True)
class PastContact:
    at: datetime
    channel: str
    right_party: bool


@dataclass(frozen=True)
class PastPromise:
    made_at: datetime
    status: str  # open, kept, broken
    settled_at: datetime | None = None


@dataclass(frozen=True)
class CaseSnapshot:
    """A case as it stood at `at`: only what happened before `at` may be in it."""

    at: datetime
    balance_minor: int
    risk_score: int | None
    due_since: date | None
    contacts: Sequence[PastContact] = ()
    promises: Sequence[PastPromise] = ()
    segment: str | None = None  # the collection policy's segment the case was in


def case_features(s: CaseSnapshot, segments: Sequence[str] = ()) -> list[float]:
    month = s.at - timedelta(days=30)
    recent = [c for c in s.contacts if month <= c.at < s.at]
    before = [c for c in s.contacts if c.at < s.at]
    last = max((c.at for c in before), default=None)
    settled = [p for p in s.promises if p.settled_at is not None and p.settled_at < s.at]
    by_channel = {ch: sum(1 for c in recent if c.channel == ch) for ch in ("phone", "sms", "email", "letter")}
    return [
        math.log1p(max(0, s.balance_minor) / 100),
        float(s.risk_score if s.risk_score is not None else 500),
        float(max(0, (s.at.date() - s.due_since).days) if s.due_since else 0),
        float(len(recent)),
        float(sum(1 for c in recent if c.right_party)),
        *(float(by_channel[ch]) for ch in ("phone", "sms", "email", "letter")),
        float(min(60, (s.at - last).days) if last else 60),
        float(sum(1 for p in s.promises if p.made_at < s.at)),
        float(sum(1 for p in settled if p.status == "kept")),
        float(sum(1 for p in settled if p.status == "broken")),
        *(1.0 if s.segment == segment else 0.0 for segment in segments),
    ]


def contact_features(base: Sequence[float], channel: str, band: str) -> list[float]:
    return [
        *base,
        *(1.0 if channel == c else 0.0 for c in PERSON_AND_MESSAGE_CHANNELS),
        *(1.0 if band == name else 0.0 for name, _, _ in HOUR_BANDS),
    ]


@dataclass(frozen=True)
class LogisticModel:
    """A standardised logistic regression: p = 1 / (1 + exp(-(b + w . (x - mean) / scale)))."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float

    def probability(self, x: Sequence[float]) -> float:
        terms = zip(self.weights, x, self.mean, self.scale, strict=True)
        z = self.intercept + sum(w * (v - m) / (s or 1.0) for w, v, m, s in terms)
        return 1.0 / (1.0 + math.exp(-max(-700.0, min(700.0, z))))

    def to_document(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "intercept": self.intercept,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], expected: Sequence[str]) -> LogisticModel:
        features = tuple(str(f) for f in doc["features"])
        if features != tuple(expected):
            raise ValueError(f"the model's features {features} are not this platform's {tuple(expected)}")
        vectors = [tuple(float(v) for v in doc[k]) for k in ("mean", "scale", "weights")]
        if any(len(v) != len(features) for v in vectors):
            raise ValueError("mean, scale and weights need one value per feature")
        return cls(features, vectors[0], vectors[1], vectors[2], float(doc["intercept"]))


@dataclass(frozen=True)
class ContactChoice:
    channel: str
    hour_band: str
    probability: float


@dataclass(frozen=True)
class PropensityModel:
    """The version in force of `propensity-model`; None of it (the bundled version) is rule-based order."""

    version: str
    horizon_days: int
    pay: LogisticModel
    contact: LogisticModel | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    segments: tuple[str, ...] = ()

    def pay_probability(self, snapshot: CaseSnapshot) -> float:
        return self.pay.probability(case_features(snapshot, self.segments))

    def best_contact(
        self, snapshot: CaseSnapshot, channels: Sequence[str], bands: Sequence[str]
    ) -> ContactChoice | None:
        """The channel and hour band most likely to reach the debtor, among those given (the ones the
        gate allows); None without a contact model or nothing to choose from."""
        if self.contact is None or not channels or not bands:
            return None
        base = case_features(snapshot, self.segments)
        scored = [
            ContactChoice(ch, band, self.contact.probability(contact_features(base, ch, band)))
            for ch in channels
            for band in bands
        ]
        return max(scored, key=lambda c: (c.probability, c.channel, c.hour_band))

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], version: str) -> PropensityModel | None:
        """The model a `propensity-model` document holds (None: the rule-based order)."""
        if doc.get("kind") != "logistic":
            return None
        contact = doc.get("contact")
        segments = tuple(str(s) for s in doc.get("segments") or ())
        return cls(
            version=version,
            horizon_days=int(doc["horizon_days"]),
            pay=LogisticModel.from_document(doc["pay"], case_feature_names(segments)),
            contact=(
                None
                if contact is None
                else LogisticModel.from_document(contact, contact_feature_names(segments))
            ),
            metrics=dict(doc.get("metrics") or {}),
            segments=segments,
        )
