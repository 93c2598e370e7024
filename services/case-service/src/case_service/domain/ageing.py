"""Days past due, delinquency buckets and stage thresholds: pure functions of the due-since date and today."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from case_service.domain.errors import PolicyError
from dcp_events.catalogue.enums import Stage

CURRENT = "current"
"""The bucket of an account that is not past due (cured)."""

STAGE_ORDER: tuple[Stage, ...] = (Stage.EARLY, Stage.LATE, Stage.LEGAL, Stage.WRITTEN_OFF)


def stage_rank(stage: Stage) -> int:
    return STAGE_ORDER.index(stage)


def days_past_due(due_since: date | None, today: date) -> int:
    """Calendar days since the oldest unpaid due date (0 when current or not yet due)."""
    if due_since is None:
        return 0
    return max(0, (today - due_since).days)


@dataclass(frozen=True)
class Bucket:
    name: str
    min_dpd: int
    max_dpd: int | None  # None: open-ended

    def contains(self, dpd: int) -> bool:
        return dpd >= self.min_dpd and (self.max_dpd is None or dpd <= self.max_dpd)


DEFAULT_BUCKETS: tuple[Bucket, ...] = (
    Bucket("1-30", 1, 30),
    Bucket("31-60", 31, 60),
    Bucket("61-90", 61, 90),
    Bucket("91-180", 91, 180),
    Bucket("181+", 181, None),
)


@dataclass(frozen=True)
class AgeingPolicy:
    """Buckets (contiguous from day 1, the last open-ended) and the DPD at which each later stage starts."""

    buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS
    stage_thresholds: Mapping[Stage, int] | None = None

    def __post_init__(self) -> None:
        if not self.buckets or self.buckets[0].min_dpd != 1:
            raise PolicyError("the first bucket must start at 1 day past due")
        for a, b in zip(self.buckets, self.buckets[1:], strict=False):
            if a.max_dpd is None or b.min_dpd != a.max_dpd + 1:
                raise PolicyError(f"buckets {a.name} and {b.name} are not contiguous")
        if self.buckets[-1].max_dpd is not None:
            raise PolicyError("the last bucket must be open-ended")
        names = [b.name for b in self.buckets]
        if len(set(names)) != len(names) or CURRENT in names:
            raise PolicyError("bucket names must be unique and not 'current'")
        thresholds = self.thresholds
        ordered = [thresholds[s] for s in STAGE_ORDER[1:] if s in thresholds]
        if ordered != sorted(ordered) or any(t < 1 for t in ordered):
            raise PolicyError("stage thresholds must be positive and increase early -> late -> legal")

    @property
    def thresholds(self) -> Mapping[Stage, int]:
        if self.stage_thresholds is None:
            return {Stage.LATE: 31, Stage.LEGAL: 91}
        return self.stage_thresholds

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AgeingPolicy:
        try:
            buckets = (
                tuple(
                    Bucket(
                        str(b["name"]),
                        int(b["min_dpd"]),
                        None if b.get("max_dpd") is None else int(b["max_dpd"]),
                    )
                    for b in data.get("buckets", [])
                )
                or DEFAULT_BUCKETS
            )
            raw: Mapping[str, Any] = data.get("stage_thresholds", {}) or {}
            thresholds = {Stage(k): int(v) for k, v in raw.items() if v is not None}
        except (KeyError, TypeError, ValueError) as exc:
            raise PolicyError(f"invalid ageing configuration: {exc}") from exc
        if Stage.EARLY in thresholds:
            raise PolicyError("early is where every case starts; it has no threshold")
        return cls(buckets=buckets, stage_thresholds=thresholds)

    def bucket_for(self, dpd: int) -> str:
        if dpd <= 0:
            return CURRENT
        for bucket in self.buckets:
            if bucket.contains(dpd):
                return bucket.name
        raise AssertionError("buckets cover every positive DPD")  # pragma: no cover

    def stage_for(self, dpd: int) -> Stage:
        """The stage days past due alone calls for."""
        stage = Stage.EARLY
        for candidate in STAGE_ORDER[1:]:
            threshold = self.thresholds.get(candidate)
            if threshold is not None and dpd >= threshold:
                stage = candidate
        return stage

    def boundaries(self) -> Sequence[int]:
        """Every DPD at which a bucket or a stage begins."""
        return sorted({b.min_dpd for b in self.buckets} | set(self.thresholds.values()))

    def next_change_on(self, due_since: date | None, today: date) -> date | None:
        """The first day after `today` on which the bucket or the DPD-driven stage changes (None: never)."""
        if due_since is None:
            return None
        dpd = days_past_due(due_since, today)
        for boundary in self.boundaries():
            if boundary > dpd:
                return due_since + timedelta(days=boundary)
        return None


def next_midnight(now: datetime) -> datetime:
    """When the next daily ageing run is due: five past midnight UTC after `now`."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(0, 5), tzinfo=UTC)
