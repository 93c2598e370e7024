"""The audit service's running parts: the trail role's pool, the ingest consumer, the checkpointer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import asyncpg
from aiokafka.errors import KafkaError

from audit_service.adapters import trail
from audit_service.adapters.case_keys import CaseKeys
from audit_service.adapters.checkpoint_log import CheckpointPublisher, DisclosurePublisher
from audit_service.adapters.signing_key import (
    load_master_keys,
    load_previous_signer,
    load_salts,
    load_signer,
    trusted_public_keys,
)
from audit_service.adapters.trail import EntryRow
from audit_service.application.checkpoints import Checkpointer
from audit_service.application.handlers import COMMAND_HANDLERS
from audit_service.application.ingest import GROUP_ID, TrailIngestor
from audit_service.application.ports import AuditBus, AuditEnvironment, AuditUnitOfWork
from audit_service.application.reconciliation import Reconciler
from audit_service.settings import AuditServiceSettings
from dcp_compliance import follow_pack_activations
from dcp_events import TOPICS, dlq_topic
from dcp_events.catalogue.policies import TOPIC as POLICIES_TOPIC
from dcp_platform.application import CommandBus
from dcp_platform.auth import Principal
from dcp_platform.clock import Clock
from dcp_platform.disclosure import reveals
from dcp_platform.eventsourcing.follower import TopicFollower
from dcp_platform.lifecycle import Lifecycle
from dcp_platform.problems import BadRequest, ServiceUnavailable
from dcp_platform.sealing import SEALED_ATTRIBUTE, DataKeyVault

_SEALED = f'"{SEALED_ATTRIBUTE}"'.encode()


class TrailRoleTooPowerful(RuntimeError):
    """The service's database role could change the trail: it must only INSERT and SELECT it."""


def watched_topic_names(settings: AuditServiceSettings) -> list[str]:
    """Every catalogue topic and its DLQ, plus extra ones; named without the deployment's prefix."""
    return list(dict.fromkeys([*TOPICS, *(dlq_topic(t) for t in TOPICS), *settings.extra_topics]))


def watched_topics(settings: AuditServiceSettings) -> list[str]:
    """Every catalogue topic and its DLQ, plus extra ones; prefixed for this deployment."""
    return [settings.kafka_topic_prefix + t for t in watched_topic_names(settings)]


def checkpoint_topic(settings: AuditServiceSettings) -> str:
    """The topic checkpoints are published to, prefixed for this deployment."""
    return settings.kafka_topic_prefix + settings.audit_checkpoint_topic


def group_id(settings: AuditServiceSettings) -> str:
    """The ingest consumer group; the topic prefix keeps deployments on one broker apart."""
    return settings.kafka_topic_prefix + GROUP_ID


async def check_trail_role(pool: asyncpg.Pool) -> None:
    if await trail.trail_role_may_change_trail(pool):
        raise TrailRoleTooPowerful(
            "the service's database role may change the audit trail; run it as the trail role (AUDIT_DB_ROLE)"
        )


class AuditRuntime(Lifecycle):
    """The trail role's pool, the ingest consumer group and the checkpointer, started with the app.

    `consumers` names the consumer groups (`group_id`, `topics` without the prefix) as the platform's
    EventSourcingRuntime does, so tooling reads what any service consumes the same way, unstarted.
    """

    def __init__(self, settings: AuditServiceSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.signer = load_signer(settings)
        self.salts = load_salts(settings)
        self.keys = CaseKeys(load_master_keys(settings), self.salts)
        self.previous_signer = load_previous_signer(settings)
        # The vault of the personal data producers sealed in their events (None: sealing is off).
        sealer = settings.make_sealer()
        self.vault: DataKeyVault | None = sealer.vault if sealer is not None else None
        self.trusted_keys = [
            *trusted_public_keys(settings),
            *([self.previous_signer.public_key] if self.previous_signer is not None else []),
            self.signer.public_key,
        ]
        self._pool: asyncpg.Pool | None = None
        # An auditor's unmasking, recorded on the case's topic before anything is shown.
        self.disclosures = DisclosurePublisher(
            settings.kafka_bootstrap_servers, settings.kafka_topic_prefix + "collections.cases", clock
        )
        self.ingestor = TrailIngestor(
            settings.kafka_bootstrap_servers,
            watched_topic_names(settings),
            group_id=group_id(settings),
            topic_prefix=settings.kafka_topic_prefix,
            batch_size=settings.audit_ingest_batch_size,
            salts=self.salts,
            keys=self.keys,
        )
        self.consumers: list[TrailIngestor] = [self.ingestor]
        # The rule packs activated at runtime: the findings re-decide each contact with the version
        # it names, which may be one no file holds.
        self.packs = TopicFollower(
            settings.kafka_bootstrap_servers,
            settings.kafka_topic_prefix + POLICIES_TOPIC,
            follow_pack_activations,
        )
        self.checkpointer: Checkpointer | None = None
        self.reconciler: Reconciler | None = None
        self.bus: AuditBus = CommandBus(
            COMMAND_HANDLERS,
            self._unit_of_work,
            AuditEnvironment(self.signer, clock, self.previous_signer, list(self.trusted_keys)),
        )

    @asynccontextmanager
    async def _unit_of_work(self, conn: asyncpg.Connection | None) -> AsyncIterator[AuditUnitOfWork]:
        if conn is not None:
            yield AuditUnitOfWork(conn)
            return
        async with self.pool.acquire() as own, own.transaction():
            yield AuditUnitOfWork(own)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the audit runtime is not started")
        return self._pool

    async def reveals_case(
        self, principal: Principal, case_id: str | None, view: str, unmask: bool, reason: str | None
    ) -> bool:
        """Whether `principal` sees the case's personal data unmasked: a role in AUDIT_PII_ROLES, or one
        in PII_UNMASK_ROLES asking with a reason, recorded as `PersonalDataDisclosed` first."""
        settings = self.settings
        granted = reveals(
            principal,
            unmask=unmask,
            reason=reason,
            pii_roles=settings.trail_pii_roles,
            unmask_roles=settings.unmask_roles,
        )
        if not granted or principal.role.value in settings.trail_pii_roles:
            return granted
        if not case_id:
            raise BadRequest("Personal data is unmasked one case at a time: this entry has no case.")
        assert reason is not None
        try:
            await self.disclosures.publish(case_id, view, reason)
        except (KafkaError, OSError) as exc:
            raise ServiceUnavailable(
                "The disclosure cannot be recorded now: nothing is shown unmasked."
            ) from exc
        return True

    async def data_keys(self, rows: Iterable[EntryRow]) -> dict[str, bytes]:
        """The vault's data keys of the cases whose entries among `rows` hold sealed personal data
        (the erased ones left out): what opens them for a view."""
        if self.vault is None:
            return {}
        subjects = {r.index.case_id for r in rows if r.index.case_id and not r.erased and _SEALED in r.entry}
        if not subjects:
            return {}
        keys = await self.vault.keys(subjects, create=False)
        return {s: k for s, k in keys.items() if k}

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(self.settings.trail_dsn, min_size=1, max_size=8)
        await check_trail_role(self._pool)
        await self.packs.start()
        settings = self.settings
        self.checkpointer = Checkpointer(
            self._pool,
            self.bus,
            self.clock,
            settings.audit_checkpoint_interval_seconds,
            every_entries=settings.audit_checkpoint_every_entries,
            publisher=CheckpointPublisher(
                settings.kafka_bootstrap_servers, checkpoint_topic(settings), settings.audit_witness_dir
            ),
        )
        self.ingestor.on_written = self.checkpointer.entries_written
        await self.ingestor.start(self._pool)
        await self.checkpointer.start()
        self.reconciler = Reconciler(self._pool, self.settings.audit_reconcile_interval_seconds, self.keys)
        await self.reconciler.start()

    async def stop(self) -> None:
        await self.disclosures.stop()
        if self.reconciler is not None:
            await self.reconciler.stop()
        if self.checkpointer is not None:
            await self.checkpointer.stop()
        await self.ingestor.stop()
        await self.packs.stop()
        if self._pool is not None:
            await self._pool.close()
        if self.vault is not None:
            await self.vault.stop()
            self._pool = None
