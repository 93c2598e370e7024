"""The audit service's entry point: settings, the app factory (`audit_service.main:create_app`), CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from fastapi import FastAPI

from audit_service import verifier
from audit_service.adapters.case_keys import CaseKeys
from audit_service.adapters.signing_key import load_master_keys, load_salts
from audit_service.application.ingest import TrailWriter, replay
from audit_service.application.runtime import check_trail_role, group_id, watched_topics
from audit_service.bootstrap import bootstrap
from audit_service.settings import AuditServiceSettings
from dcp_platform import migrations
from dcp_platform.service import service_cli

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

__all__ = ["MIGRATIONS", "AuditServiceSettings", "cli", "create_app"]


def create_app(settings: AuditServiceSettings | None = None) -> FastAPI:
    return bootstrap(settings or AuditServiceSettings())


async def rebuild_trail(settings: AuditServiceSettings) -> dict[str, dict[str, object]]:
    """Replay every watched topic into the (empty) trail of `settings`; the chain heads reached."""
    pool = await asyncpg.create_pool(settings.trail_dsn, min_size=1, max_size=2)
    try:
        await check_trail_role(pool)
        async with pool.acquire() as conn:
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM audit_entries)"):
                raise RuntimeError("the target trail is not empty: rebuild only into an empty audit database")
        writer = TrailWriter(
            pool,
            group_id=group_id(settings),
            topic_prefix=settings.kafka_topic_prefix,
            salts=load_salts(settings),
            keys=CaseKeys(load_master_keys(settings)),
        )
        await replay(writer, settings.kafka_bootstrap_servers, watched_topics(settings))
        return {
            str(chain): {"size": c.head.seq + 1, "head_hash": c.head.hash.hex(), "last_offset": c.head.offset}
            for chain, c in sorted(writer.chains.items(), key=lambda kv: (kv[0].topic, kv[0].partition))
            if c.head is not None
        }
    finally:
        await pool.close()


cli = service_cli(create_app, AuditServiceSettings, MIGRATIONS)


@cli.command("rebuild")
def rebuild_command(
    database_url: Annotated[
        str | None, typer.Option(help="The empty audit database to fill (default: the service database)")
    ] = None,
) -> None:
    """Replay the topics into an empty audit database; print the chain heads (they match the original's)."""
    overrides = {"service_database_url": database_url} if database_url else {}
    settings = AuditServiceSettings(**overrides)  # type: ignore[arg-type]
    migrations.upgrade(MIGRATIONS, settings.sqlalchemy_url)
    heads = asyncio.run(rebuild_trail(settings))
    typer.echo(json.dumps({"chains": heads}, indent=2, sort_keys=True))


cli.add_typer(
    verifier.cli, name="verify", help="Verify an export (or a proof) offline: no service, no database."
)

if __name__ == "__main__":
    cli()
