"""Dead-letter topics: inspect what a consumer could not process, and redrive it after a fix.

`dcp-dlq list collections.payments` shows the letters of `collections.payments.dlq` with the
reason and original coordinates; `dcp-dlq redrive collections.payments` republishes them to the
original topic (original key, value and headers; `dlq.redriven.from` added). A letter whose value was
sealed (`dlq.sealed`: personal data in the clear is sealed under the case's key) is opened with the
key vault the environment names; one whose case was erased is passed over. Redrive progress is a
consumer group on the DLQ topic, committed after each letter is acknowledged, so running it twice
republishes nothing twice. Consumers deduplicate by event id, so a letter redriven after its
event was applied some other way still has one effect.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.table import Table

from dcp_platform.sealing import DEAD_LETTER_HEADER, DataKeyVault, open_dead_letter, vault_from

REDRIVE_GROUP = "dcp-dlq-redrive"


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str:
        return next((v.decode("utf-8", "replace") for k, v in self.headers if k == name), "")


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description.get("error_code") or not description.get("partitions"):
        raise typer.BadParameter(f"topic {topic!r} does not exist")
    return sorted(p["partition"] for p in description["partitions"])


async def _read(
    bootstrap: str, dlq_topic: str, *, group_id: str | None, limit: int | None
) -> tuple[AIOKafkaConsumer, list[DeadLetter]]:
    partitions = await _partitions(bootstrap, dlq_topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    tps = [TopicPartition(dlq_topic, p) for p in partitions]
    consumer.assign(tps)
    ends = await consumer.end_offsets(tps)
    if group_id is None:
        await consumer.seek_to_beginning(*tps)
    letters: list[DeadLetter] = []
    for tp in tps:
        while await consumer.position(tp) < ends[tp] and (limit is None or len(letters) < limit):
            batch = await consumer.getmany(tp, timeout_ms=1000)
            for record in batch.get(tp, []):
                if record.offset >= ends[tp] or (limit is not None and len(letters) >= limit):
                    break
                letters.append(
                    DeadLetter(
                        record.partition, record.offset, record.key, record.value or b"", list(record.headers)
                    )
                )
    return consumer, letters


async def list_letters(bootstrap: str, topic: str, limit: int | None = None) -> list[DeadLetter]:
    consumer, letters = await _read(bootstrap, f"{topic}.dlq", group_id=None, limit=limit)
    await consumer.stop()
    return letters


async def redrive(
    bootstrap: str, topic: str, *, dry_run: bool = False, vault: DataKeyVault | None = None
) -> list[DeadLetter]:
    """Republish every letter of `<topic>.dlq` not redriven before (a sealed one opened with `vault`;
    one whose case was erased is passed over); returns the letters sent."""
    dlq_topic = f"{topic}.dlq"
    consumer, letters = await _read(bootstrap, dlq_topic, group_id=REDRIVE_GROUP, limit=None)
    if dry_run:
        await consumer.stop()
        return letters
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    sent: list[DeadLetter] = []
    try:
        for letter in letters:
            original = letter.header("dlq.original.topic") or topic
            value = await _original_value(letter, vault)
            if value is not None:
                headers = [(k, v) for k, v in letter.headers if not k.startswith("dlq.")]
                headers.append(
                    ("dlq.redriven.from", f"{dlq_topic}/{letter.partition}/{letter.offset}".encode())
                )
                await producer.send_and_wait(original, value=value, key=letter.key, headers=headers)
                sent.append(letter)
            await consumer.commit({TopicPartition(dlq_topic, letter.partition): letter.offset + 1})
    finally:
        await producer.stop()
        await consumer.stop()
        if vault is not None:
            await vault.stop()
    return sent


async def _original_value(letter: DeadLetter, vault: DataKeyVault | None) -> bytes | None:
    """The record to republish: the letter's value, opened when it was sealed (None: the case's
    personal data was erased, or the value was left out: nothing to redrive)."""
    if letter.header("dlq.value.omitted"):
        return None
    if letter.header(DEAD_LETTER_HEADER) != "v1":
        return letter.value
    if vault is None:
        raise typer.BadParameter(
            "sealed dead letters: set DATA_KEYS_DATABASE_URL and DATA_MASTER_KEYS to redrive them"
        )
    return await open_dead_letter(
        vault,
        letter.header("dlq.original.topic"),
        int(letter.header("dlq.original.partition") or 0),
        int(letter.header("dlq.original.offset") or 0),
        letter.key,
        letter.value,
    )


def _vault() -> DataKeyVault | None:
    """The key vault the environment names (DATA_KEYS_DATABASE_URL, DATA_MASTER_KEYS), if any."""
    return vault_from(
        os.environ.get("DATA_KEYS_DATABASE_URL"),
        os.environ.get("DATA_MASTER_KEYS"),
        os.environ.get("KAFKA_TOPIC_PREFIX", ""),
    )


app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
_console = Console()


def _bootstrap(value: str | None) -> str:
    bootstrap = value or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        raise typer.BadParameter("give --bootstrap or set KAFKA_BOOTSTRAP_SERVERS")
    return bootstrap


@app.command("list")
def list_command(
    topic: str = typer.Argument(help="the original topic, e.g. collections.payments"),
    limit: int = typer.Option(50, help="at most this many letters"),
    bootstrap: str | None = typer.Option(None, help="Kafka bootstrap servers"),
) -> None:
    """Show the dead letters of TOPIC with their reason and original coordinates."""
    letters = asyncio.run(list_letters(_bootstrap(bootstrap), topic, limit))
    table = Table("dlq offset", "key", "original", "consumer", "sealed", "error")
    for letter in letters:
        table.add_row(
            f"{letter.partition}/{letter.offset}",
            (letter.key or b"").decode("utf-8", "replace"),
            f"{letter.header('dlq.original.topic')}/{letter.header('dlq.original.partition')}"
            f"/{letter.header('dlq.original.offset')}",
            letter.header("dlq.consumer"),
            "yes" if letter.header(DEAD_LETTER_HEADER) else "",
            letter.header("dlq.error")[:200],
        )
    _console.print(table)
    _console.print(f"{len(letters)} letter(s)")


@app.command("redrive")
def redrive_command(
    topic: str = typer.Argument(help="the original topic, e.g. collections.payments"),
    dry_run: bool = typer.Option(False, "--dry-run", help="only show what would be republished"),
    bootstrap: str | None = typer.Option(None, help="Kafka bootstrap servers"),
) -> None:
    """Republish the dead letters of TOPIC not redriven before (after the consumer was fixed)."""
    letters = asyncio.run(redrive(_bootstrap(bootstrap), topic, dry_run=dry_run, vault=_vault()))
    verb = "would republish" if dry_run else "republished"
    _console.print(f"{verb} {len(letters)} letter(s) to their original topic")
