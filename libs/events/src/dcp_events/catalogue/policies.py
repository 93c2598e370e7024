"""The collection policy's lifecycle and the decisions about it, published by case-service on
collections.policies: versions proposed, approved and activated (the collection policy and each
jurisdiction's rule pack), and experiment arms stopped by their harm guards."""

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


PolicyDocument = Annotated[str, Field(min_length=2, max_length=500_000)]
"""A policy version's document as canonical JSON text (keys sorted): what was validated and stored."""
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class PolicyChange(PayloadModel):
    """One difference between two versions of a policy document: the JSON path and the values before
    and after, as JSON text (None: absent on that side)."""

    path: Annotated[str, Field(min_length=1, max_length=1000)]
    before: Annotated[str, Field(max_length=20_000)] | None = None
    after: Annotated[str, Field(max_length=20_000)] | None = None


class PolicyVersionProposed(PolicyEvent):
    """A new version of a policy stored, validated against its JSON Schema and its rules; not in force
    until activated. Subject: the policy name (`collection-policy`, `rule-pack-<JURISDICTION>`)."""

    event_type: ClassVar[str] = "collections.policy.version_proposed"
    version: ClassVar[int] = 1

    name: Id
    policy_version: Count
    based_on: Count | None = Field(default=None, description="The version it was written from.")
    author: Id
    reason: Text
    document: PolicyDocument
    document_sha256: Sha256
    changes: list[PolicyChange] = Field(default_factory=list, max_length=500)


class PolicyVersionApproved(PolicyEvent):
    """A second person approved a version (four eyes: a rule pack is activated only once approved by
    someone other than its author)."""

    event_type: ClassVar[str] = "collections.policy.version_approved"
    version: ClassVar[int] = 1

    name: Id
    policy_version: Count
    approver: Id
    note: Text | None = None


class PolicyActivated(PolicyEvent):
    """A version of a policy is now in force: every service that decides by it switches to it without
    a restart, and its decisions name this version. Carries the document, so a reader needs nothing
    else."""

    event_type: ClassVar[str] = "collections.policy.activated"
    version: ClassVar[int] = 1

    name: Id
    policy_version: Count
    previous_version: Count | None = None
    decision_version: Id = Field(
        description="What the decisions made under it name: the collection policy's ruleset version, "
        "a rule pack's version."
    )
    author: Id
    approved_by: Id | None = None
    activated_by: Id
    reason: Text
    changes: list[PolicyChange] = Field(default_factory=list, max_length=500)
    simulation_id: Id | None = Field(default=None, description="The replay report it was released on.")
    document: PolicyDocument
    document_sha256: Sha256
