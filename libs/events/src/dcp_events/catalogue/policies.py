"""Collection policy decisions that are not about one case, published by case-service on
collections.policies: an experiment arm stopped by its harm guard (and, as the policy lifecycle
grows, the versions activated)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, StrictInt

from dcp_events.catalogue.base import Count, EventPayload, Id, IsoDate, PayloadModel, Text

TOPIC = "collections.policies"

BasisPoints = Annotated[StrictInt, Field(ge=0, le=10_000)]
SignedBasisPoints = Annotated[StrictInt, Field(ge=-10_000, le=10_000)]


class PolicyEvent(EventPayload):
    topic: ClassVar[str] = TOPIC


class GuardReading(PayloadModel):
    """One harm guard's figures when it was read: the share of cases in each arm with at least one
    such event since they were enrolled, the difference and its always-valid interval."""

    guard: Id
    champion_cases: Count
    champion_rate_bp: BasisPoints
    challenger_cases: Count
    challenger_rate_bp: BasisPoints
    difference_low_bp: SignedBasisPoints
    difference_high_bp: SignedBasisPoints
    max_increase_bp: BasisPoints
    alpha_bp: BasisPoints = Field(description="The guard's error rate, in basis points (1000: 10 %).")


class ExperimentArmStopped(PolicyEvent):
    """A challenger arm of an experiment stopped: no case is given it from now on, and the cases in
    it are moved to the champion's strategy. The experiment's figures keep counting them in the arm
    they were first given (intention to treat). Subject: the experiment id."""

    event_type: ClassVar[str] = "collections.policy.experiment_arm_stopped"
    version: ClassVar[int] = 1

    experiment_id: Id
    arm: Id
    champion_arm: Id
    reason: Text
    guard: GuardReading | None = Field(
        default=None, description="The guard that stopped it (None: stopped by a person)."
    )
    stopped_by: Id
    enrolled_since: IsoDate = Field(description="The first enrolment the figures count from.")
