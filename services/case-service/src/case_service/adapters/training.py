"""Training the propensity model from the platform's own outcome history (scikit-learn).

Observations, built from the read models with only what was known at each moment:
- **pay**: every open case at each 00:00 UTC from the day after it opened to `horizon_days` before
  now; label: a payment within `horizon_days` after it.
- **contact**: every call and field visit; label: it reached the debtor (a right-party contact);
  features: the case as it stood, the channel and the debtor's local hour band.

Cases are split into training and held-out slices by a hash of the case id and the seed (no case in
both); the metrics are the held-out slice's: AUC, Brier score, a calibration table, and the lift of the
model's order over random order and over the rule-based order (expected recovery: balance times the
risk score's chance) among the top fifth.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.scoring import (
    CaseSnapshot,
    LogisticModel,
    PastContact,
    PastPromise,
    case_feature_names,
    case_features,
    contact_feature_names,
    contact_features,
    hour_band,
)

HELD_OUT_SHARE = 5  # one case in five is held out


@dataclass
class Observations:
    x: list[list[float]]
    y: list[int]
    cases: list[str]
    rule_score: list[float]  # the rule-based order's score of the same observation

    def __init__(self) -> None:
        self.x, self.y, self.cases, self.rule_score = [], [], [], []


@dataclass(frozen=True)
class History:
    pay: Observations
    contact: Observations
    segments: tuple[str, ...] = ()  # the segments seen, in the order of their features


def _held_out(case_id: str, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}\x1f{case_id}".encode()).digest()
    return digest[0] % HELD_OUT_SHARE == 0


def _rule_score(balance_minor: int, risk: int | None) -> float:
    """The worklist's rule-based order: expected recovery = balance x (1000 - risk) / 1000."""
    return balance_minor * (1000 - (500 if risk is None else risk)) / 1000


async def history(conn: AsyncConnection, now: datetime, horizon_days: int) -> History:
    cases = (
        await conn.execute(
            text(
                "SELECT case_id, due_since, risk_score, placed_minor, opened_at, closed_at,"
                " detail->'debtor'->>'time_zone' AS time_zone FROM cases"
            )
        )
    ).all()
    recoveries: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for r in await conn.execute(text("SELECT case_id, at, amount_minor FROM kpi_recoveries")):
        recoveries[r.case_id].append((r.at, int(r.amount_minor)))
    contacts: dict[str, list[PastContact]] = defaultdict(list)
    for r in await conn.execute(text("SELECT case_id, at, channel, right_party FROM kpi_contacts")):
        contacts[r.case_id].append(PastContact(r.at, r.channel, bool(r.right_party)))
    segments: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for r in await conn.execute(text("SELECT case_id, at, segment FROM kpi_segments ORDER BY at, id")):
        segments[r.case_id].append((r.at, r.segment))
    vocabulary = tuple(sorted({s for history in segments.values() for _, s in history}))
    promises: dict[str, list[PastPromise]] = defaultdict(list)
    for r in await conn.execute(text("SELECT case_id, made_at, status, settled_at FROM kpi_promises")):
        promises[r.case_id].append(PastPromise(r.made_at, r.status, r.settled_at))
    horizon = timedelta(days=horizon_days)
    pay, contact = Observations(), Observations()
    for case in sorted(cases, key=lambda c: c.case_id):
        paid = sorted(recoveries[case.case_id])
        mine = sorted(contacts[case.case_id], key=lambda c: c.at)

        def snapshot(at: datetime) -> CaseSnapshot:
            return _snapshot(case, paid, mine, promises[case.case_id], segments[case.case_id], at)  # noqa: B023

        day = (
            (case.opened_at + timedelta(days=1))
            .astimezone(UTC)
            .replace(hour=0, minute=0, second=0, microsecond=0)
        )
        while day + horizon <= now and (case.closed_at is None or day < case.closed_at):
            s = snapshot(day)
            if s.balance_minor > 0:
                pay.x.append(case_features(s, vocabulary))
                pay.y.append(int(any(day <= t < day + horizon and a > 0 for t, a in paid)))
                pay.cases.append(case.case_id)
                pay.rule_score.append(_rule_score(s.balance_minor, case.risk_score))
            day += timedelta(days=1)
        try:
            zone = ZoneInfo(case.time_zone) if case.time_zone else UTC
        except (KeyError, ValueError):
            zone = UTC
        for attempt in mine:
            if attempt.channel not in ("phone", "field_visit"):
                continue  # messages are sent, not answered: no right-party contact to learn
            band = hour_band(attempt.at.astimezone(zone).hour)
            if band is None:
                continue
            s = snapshot(attempt.at)
            contact.x.append(contact_features(case_features(s, vocabulary), attempt.channel, band))
            contact.y.append(int(attempt.right_party))
            contact.cases.append(case.case_id)
            contact.rule_score.append(0.0)
    return History(pay, contact, vocabulary)


def _snapshot(
    case: Any,
    paid: Sequence[tuple[datetime, int]],
    contacts: Sequence[PastContact],
    promises: Sequence[PastPromise],
    segments: Sequence[tuple[datetime, str]],
    at: datetime,
) -> CaseSnapshot:
    """The case as it stood at `at`: placed minus what was paid before, the contacts and promises,
    the segment it was last given before `at`."""
    balance = int(case.placed_minor) - sum(a for t, a in paid if t < at)
    segment = next((s for t, s in reversed(segments) if t <= at), None)
    return CaseSnapshot(at, balance, case.risk_score, case.due_since, contacts, promises, segment)


def _fit(obs: Observations, names: Sequence[str], seed: int) -> tuple[LogisticModel, dict[str, Any]] | None:
    """A logistic regression on the training slice, judged on the held-out one (None: too little
    history, or one class only)."""
    import numpy as np
    from sklearn.calibration import calibration_curve
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.preprocessing import StandardScaler

    held = np.array([_held_out(c, seed) for c in obs.cases], dtype=bool)
    x, y = np.array(obs.x, dtype=float), np.array(obs.y, dtype=int)
    if len(y) < 50 or len(set(y[~held])) < 2 or len(set(y[held])) < 2:
        return None
    scaler = StandardScaler().fit(x[~held])
    fitted = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(
        scaler.transform(x[~held]), y[~held]
    )
    model = LogisticModel(
        features=tuple(names),
        mean=tuple(float(v) for v in scaler.mean_),
        scale=tuple(float(v) if v > 0 else 1.0 for v in scaler.scale_),
        weights=tuple(float(v) for v in fitted.coef_[0]),
        intercept=float(fitted.intercept_[0]),
    )
    p = np.array([model.probability(row) for row in x[held]])
    truth = y[held]
    top = max(1, len(p) // 5)
    base_rate = float(truth.mean())
    by_model = float(truth[np.argsort(-p, kind="stable")[:top]].mean())
    rules = np.array(obs.rule_score)[held]
    by_rules = float(truth[np.argsort(-rules, kind="stable")[:top]].mean())
    observed, predicted = calibration_curve(truth, p, n_bins=5, strategy="quantile")
    metrics = {
        "observations": len(y),
        "training": int((~held).sum()),
        "held_out": int(held.sum()),
        "held_out_positive_rate": round(base_rate, 4),
        "auc": round(float(roc_auc_score(truth, p)), 4),
        "brier": round(float(brier_score_loss(truth, p)), 4),
        "calibration": [
            {"predicted": round(float(a), 4), "observed": round(float(b), 4)}
            for a, b in zip(predicted, observed, strict=True)
        ],
        "top_fifth_rate": round(by_model, 4),
        "lift_over_random": round(by_model / base_rate, 3) if base_rate else None,
    }
    if any(rules):
        metrics["rule_based_top_fifth_rate"] = round(by_rules, 4)
        metrics["rule_based_auc"] = round(float(roc_auc_score(truth, rules)), 4)
        metrics["lift_over_rule_based"] = round(by_model / by_rules, 3) if by_rules else None
    return model, metrics


def train(observed: History, horizon_days: int, seed: int, trained_at: datetime) -> dict[str, Any]:
    """The `propensity-model` document of a model trained on `observed` (reproducible for a seed)."""
    pay = _fit(observed.pay, case_feature_names(observed.segments), seed)
    if pay is None:
        raise ValueError(
            f"not enough outcome history to learn from: {len(observed.pay.y)} case-days, "
            f"{sum(observed.pay.y)} with a payment within {horizon_days} days (at least 50, both outcomes)"
        )
    contact = _fit(observed.contact, contact_feature_names(observed.segments), seed)
    return {
        "kind": "logistic",
        "horizon_days": horizon_days,
        "seed": seed,
        "trained_at": trained_at.isoformat(),
        "library": _library(),
        "segments": list(observed.segments),
        "pay": pay[0].to_document(),
        "contact": None if contact is None else contact[0].to_document(),
        "metrics": {"pay": pay[1], "contact": None if contact is None else contact[1]},
    }


def _library() -> str:
    import sklearn

    return f"scikit-learn {sklearn.__version__}"
