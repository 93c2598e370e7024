"""The local SMS gateway: a small HTTP provider (FastAPI under uvicorn, its own process) that accepts text
messages, reports their delivery to a callback and simulates debtors' replies; it records everything.

This is the one provider shape the platform's SMS adapter speaks. Started by the stack as
``python -m dcp_devstack.smsgateway --port 8025 --directory DIR`` (``DCP_SMS_PORT``; the API key in the
environment as ``SMS_GATEWAY_API_KEY``, or ``--api-key K``; ``--fail-numbers +1555...,+1555...``;
``--inbound-webhook URL``). The platform is given ``SMS_GATEWAY_URL`` and ``SMS_GATEWAY_API_KEY``.

Every request but ``GET /healthz`` carries ``Authorization: Bearer <api key>``; a missing or wrong key
is answered ``401`` (``application/problem+json``). A body that is not the documented JSON (unknown
members included) is answered ``422`` problem+json, with ``errors``. Authentication is checked first.

``POST /v1/messages`` sends a message::

    {"to": "+15551230000",          E.164: "+", then 7 to 15 digits
     "from": "DCP",                 sender id, 1..15 characters
     "body": "text",                1..1600 characters
     "client_reference": "attempt-id",                                       optional, 1..200 characters
     "status_callback": "http://127.0.0.1:8002/channels/sms/receipts"}       optional, http(s) URL

  → ``202 {"id": "SM<32 hex>", "status": "accepted", "to": "+15551230000", "segments": 1}``.
  ``segments``: GSM-7 (the GSM 03.38 alphabet, its extension characters counting two) 160 characters in
  one segment, else 153 per segment; any other character makes it UCS-2: 70 UTF-16 units, else 67 each.
  The same ``client_reference`` again returns the first answer (same ``id``) and sends nothing; with a
  different ``to``, ``from`` or ``body`` it is a ``409`` problem+json.

The delivery receipt: about 50 ms after accepting (``--receipt-delay``), the message is delivered, or
failed when ``to`` is one of ``--fail-numbers``, and when ``status_callback`` was given the gateway POSTs::

    {"id": "SM...", "client_reference": "attempt-id", "status": "delivered" | "failed",
     "to": "+15551230000", "error_code": null | "30003", "reported_at": "2026-01-05T08:00:00.05+00:00"}

``POST /v1/simulate/inbound`` makes a debtor's reply arrive::

    {"from": "+15551230000", "to": "DCP", "body": "STOP", "webhook": "http://127.0.0.1:8002/channels/sms/inbound"}

  (``webhook`` optional: else ``--inbound-webhook``; neither is a ``422``). The gateway POSTs
  ``{"id": "MO<32 hex>", "from": ..., "to": ..., "body": ..., "received_at": ISO-8601 UTC}`` to the
  webhook, then answers ``202 {"id": "MO...", "webhook": URL, "webhook_status": <its HTTP status>}``,
  or ``502`` problem+json (with ``id``) when the webhook could not be reached.

Webhooks (receipts and inbound messages) are JSON, ``Content-Type: application/json``, and carry
``X-Gateway-Signature``: the hex HMAC-SHA256 of the raw request body keyed with the API key
(:func:`signature`), and ``X-Gateway-Timestamp`` (Unix seconds, not signed: the signed body carries
``reported_at`` / ``received_at`` for a freshness check). The platform verifies the signature, in
constant time, before it believes a webhook. A connection error, a 429 or a 5xx is retried up to 5 times
(after 0.1, 0.2, 0.4, 0.8, 1.6 s); any other answer is final.

``GET /v1/messages`` (optional ``?to=``, ``?client_reference=``) lists the outbound messages:
``{"id", "to", "from", "body", "client_reference", "status_callback", "status" ("accepted" | "delivered" |
"failed"), "error_code", "segments", "encoding" ("GSM-7" | "UCS-2"), "accepted_at", "reported_at",
"receipt_status" (the HTTP status the status_callback answered, null while pending, without a callback
or when it could not be reached), "receipt_attempts"}``; ``GET /v1/messages/{id}`` one of them.
``GET /healthz`` is 200 ``{"status": "ok"}``.

Records are appended to ``DIR/messages.jsonl`` (outbound: one line per change, the last line of an id
wins) and ``DIR/inbound.jsonl``, so they survive a restart (idempotency too) and tests read them with
:func:`read_sms` / :func:`read_inbound`.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime, and the
# routes live inside create_app() so that importing this module (the stack does) loads no web framework.
import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import math
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import StackConfig
from .kafka import StackError
from .procs import live_pid, pid_argv, port_open, spawn, tail, terminate, wait_until

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

log = logging.getLogger(__name__)

MODULE = "dcp_devstack.smsgateway"
HOST = "127.0.0.1"
API_KEY_ENV = "SMS_GATEWAY_API_KEY"
MESSAGES_FILE = "messages.jsonl"
INBOUND_FILE = "inbound.jsonl"
FAILED_ERROR_CODE = "30003"  # "unreachable destination handset"
RETRIES = 5
RETRY_BACKOFF = 0.1  # seconds before the first retry, doubled for each next one
PROBLEM_BASE = "https://sms-gateway.dcp.example/problems/"

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
) - {"\x1b"}
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


def signature(api_key: str, body: bytes) -> str:
    """The ``X-Gateway-Signature`` of a webhook: hex HMAC-SHA256 of its raw body, keyed with the API key."""
    return hmac.new(api_key.encode(), body, hashlib.sha256).hexdigest()


def segments(body: str) -> tuple[str, int]:
    """The encoding (``"GSM-7"`` or ``"UCS-2"``) and the number of segments ``body`` is sent in."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in body):
        septets = len(body) + sum(ch in _GSM7_EXTENSION for ch in body)
        return "GSM-7", 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)


# --- the records -------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line being written right now
    return records


def read_sms(directory: Path) -> list[dict[str, Any]]:
    """The outbound messages the gateway recorded in ``directory``, in the order it accepted them, each in
    its latest state (the shape of ``GET /v1/messages``)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in _read_jsonl(Path(directory) / MESSAGES_FILE):
        latest[record["id"]] = record  # dicts keep the first insertion's place
    return list(latest.values())


def read_inbound(directory: Path) -> list[dict[str, Any]]:
    """The simulated inbound messages, with the webhook each went to and what it answered."""
    return _read_jsonl(Path(directory) / INBOUND_FILE)


class Ledger:
    """The gateway's records: in memory for the API, appended to the JSON-lines files for restarts."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.messages = {m["id"]: m for m in read_sms(directory)}
        self.by_reference = {
            m["client_reference"]: m["id"] for m in self.messages.values() if m.get("client_reference")
        }

    def _append(self, name: str, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)  # one write of a whole line: readers never see a torn record
        finally:
            os.close(fd)

    def save(self, message: dict[str, Any]) -> None:
        self.messages[message["id"]] = message
        if message.get("client_reference"):
            self.by_reference[message["client_reference"]] = message["id"]
        self._append(MESSAGES_FILE, message)

    def save_inbound(self, record: dict[str, Any]) -> None:
        self._append(INBOUND_FILE, record)


# --- the app -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewaySettings:
    api_key: str
    directory: Path
    fail_numbers: frozenset[str] = frozenset()
    inbound_webhook: str | None = None
    receipt_delay: float = 0.05


@dataclass
class _Delivery:
    status: int | None
    attempts: int
    error: str | None = None


@dataclass
class _Gateway:
    settings: GatewaySettings
    ledger: Ledger
    client: "httpx.AsyncClient | None" = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def post_signed(self, url: str, payload: dict[str, Any]) -> _Delivery:
        assert self.client is not None
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Gateway-Signature": signature(self.settings.api_key, body),
            "X-Gateway-Timestamp": str(int(time.time())),
        }
        import httpx

        delivery = _Delivery(status=None, attempts=0)
        for attempt in range(RETRIES + 1):
            if attempt:
                await asyncio.sleep(RETRY_BACKOFF * 2 ** (attempt - 1))
            delivery.attempts += 1
            try:
                response = await self.client.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:
                delivery.status, delivery.error = None, f"{type(exc).__name__}: {exc}"
                continue
            delivery.status, delivery.error = response.status_code, None
            if response.status_code != 429 and response.status_code < 500:
                break
        log.info(
            "POST %s -> %s after %d attempt(s)", url, delivery.status or delivery.error, delivery.attempts
        )
        return delivery

    async def report(self, message_id: str) -> None:
        await asyncio.sleep(self.settings.receipt_delay)
        message = dict(self.ledger.messages[message_id])
        failed = message["to"] in self.settings.fail_numbers
        message.update(
            status="failed" if failed else "delivered",
            error_code=FAILED_ERROR_CODE if failed else None,
            reported_at=datetime.now(UTC).isoformat(),
        )
        self.ledger.save(message)
        callback = message.get("status_callback")
        if not callback:
            return
        receipt = {
            "id": message["id"],
            "client_reference": message.get("client_reference"),
            "status": message["status"],
            "to": message["to"],
            "error_code": message["error_code"],
            "reported_at": message["reported_at"],
        }
        delivery = await self.post_signed(callback, receipt)
        message = dict(self.ledger.messages[message_id])
        message.update(receipt_status=delivery.status, receipt_attempts=delivery.attempts)
        if delivery.error:
            message["receipt_error"] = delivery.error
        self.ledger.save(message)

    def later(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def create_app(settings: GatewaySettings) -> "FastAPI":
    """The gateway's HTTP API (see the module docstring for its shape)."""
    import httpx
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    class Problem(Exception):
        def __init__(self, status: int, code: str, title: str, detail: str, **extra: Any) -> None:
            super().__init__(detail)
            self.status, self.code, self.title, self.detail, self.extra = status, code, title, detail, extra

    def problem_response(problem: Problem) -> JSONResponse:
        body = {
            "type": PROBLEM_BASE + problem.code,
            "title": problem.title,
            "status": problem.status,
            "detail": problem.detail,
            **problem.extra,
        }
        headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
        return JSONResponse(body, problem.status, headers=headers, media_type="application/problem+json")

    e164 = r"^\+[1-9][0-9]{6,14}$"
    url = r"^https?://\S+$"

    class OutboundMessage(BaseModel):
        model_config = ConfigDict(extra="forbid", populate_by_name=True)
        to: str = Field(pattern=e164)
        sender: str = Field(alias="from", min_length=1, max_length=15)
        body: str = Field(min_length=1, max_length=1600)
        client_reference: str | None = Field(default=None, min_length=1, max_length=200)
        status_callback: str | None = Field(default=None, pattern=url)

    class InboundMessage(BaseModel):
        model_config = ConfigDict(extra="forbid", populate_by_name=True)
        sender: str = Field(alias="from", pattern=e164)
        to: str = Field(min_length=1, max_length=15)
        body: str = Field(min_length=1, max_length=1600)
        webhook: str | None = Field(default=None, pattern=url)

    gateway = _Gateway(settings=settings, ledger=Ledger(settings.directory))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
            gateway.client = client
            yield
            for task in list(gateway.tasks):
                task.cancel()

    app = FastAPI(title="DCP local SMS gateway", lifespan=lifespan)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    def authorize(request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), settings.api_key.encode()
        ):
            raise Problem(401, "unauthorized", "Unauthorized", "a valid Authorization: Bearer <api key>")

    async def parse(request: Request, model: type[BaseModel]) -> Any:
        # authentication before parsing, as a provider does: a caller without the key learns nothing
        authorize(request)
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
            raise Problem(
                422, "validation", "Request validation failed", "the body is invalid", errors=errors
            ) from None

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/messages", status_code=202)
    async def send_message(request: Request) -> JSONResponse:
        sms: OutboundMessage = await parse(request, OutboundMessage)
        ref = sms.client_reference
        if ref is not None and ref in gateway.ledger.by_reference:
            first = gateway.ledger.messages[gateway.ledger.by_reference[ref]]
            if (first["to"], first["from"], first["body"]) != (sms.to, sms.sender, sms.body):
                raise Problem(
                    409,
                    "client-reference-reused",
                    "client_reference reused",
                    f"client_reference {ref!r} was sent with another to, from or body",
                    id=first["id"],
                )
            return JSONResponse(_accepted(first), 202, headers={"Idempotent-Replayed": "true"})
        encoding, count = segments(sms.body)
        message: dict[str, Any] = {
            "id": "SM" + uuid.uuid4().hex,
            "to": sms.to,
            "from": sms.sender,
            "body": sms.body,
            "client_reference": ref,
            "status_callback": sms.status_callback,
            "status": "accepted",
            "error_code": None,
            "segments": count,
            "encoding": encoding,
            "accepted_at": datetime.now(UTC).isoformat(),
            "reported_at": None,
            "receipt_status": None,
            "receipt_attempts": 0,
        }
        gateway.ledger.save(message)
        gateway.later(gateway.report(message["id"]))
        return JSONResponse(_accepted(message), 202)

    @app.get("/v1/messages")
    async def list_messages(
        request: Request, to: str | None = None, client_reference: str | None = None
    ) -> list[dict[str, Any]]:
        authorize(request)
        return [
            m
            for m in gateway.ledger.messages.values()
            if (to is None or m["to"] == to)
            and (client_reference is None or m.get("client_reference") == client_reference)
        ]

    @app.get("/v1/messages/{message_id}")
    async def get_message(request: Request, message_id: str) -> dict[str, Any]:
        authorize(request)
        if message_id not in gateway.ledger.messages:
            raise Problem(404, "not-found", "Not found", f"no message {message_id}")
        return gateway.ledger.messages[message_id]

    @app.post("/v1/simulate/inbound", status_code=202)
    async def simulate_inbound(request: Request) -> JSONResponse:
        reply: InboundMessage = await parse(request, InboundMessage)
        webhook = reply.webhook or settings.inbound_webhook
        if webhook is None:
            raise Problem(
                422, "no-webhook", "No webhook", "give webhook, or start the gateway with --inbound-webhook"
            )
        try:
            httpx.URL(webhook)
        except httpx.InvalidURL as exc:
            raise Problem(422, "invalid-webhook", "Invalid webhook", f"{webhook}: {exc}") from exc
        mo = {
            "id": "MO" + uuid.uuid4().hex,
            "from": reply.sender,
            "to": reply.to,
            "body": reply.body,
            "received_at": datetime.now(UTC).isoformat(),
        }
        delivery = await gateway.post_signed(webhook, mo)
        gateway.ledger.save_inbound(
            {**mo, "webhook": webhook, "webhook_status": delivery.status, "attempts": delivery.attempts}
        )
        if delivery.status is None:
            raise Problem(
                502,
                "webhook-unreachable",
                "Webhook unreachable",
                f"{webhook}: {delivery.error}",
                id=mo["id"],
            )
        return JSONResponse({"id": mo["id"], "webhook": webhook, "webhook_status": delivery.status}, 202)

    return app


def _accepted(message: dict[str, Any]) -> dict[str, Any]:
    return {"id": message["id"], "status": "accepted", "to": message["to"], "segments": message["segments"]}


# --- managed by the stack ----------------------------------------------------------------------------


def fail_numbers_from_env() -> list[str]:
    """``DCP_SMS_FAIL_NUMBERS``: the numbers the stack's gateway reports as failed (comma-separated)."""
    return _numbers(os.environ.get("DCP_SMS_FAIL_NUMBERS", ""))


def _numbers(raw: str | Iterable[str]) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else raw
    return sorted({n.strip() for n in items if n.strip()})


def inbound_webhook(cfg: StackConfig) -> str:
    """``DCP_SMS_INBOUND_WEBHOOK``, else the contact service's SMS inbound route on the stack."""
    explicit = os.environ.get("DCP_SMS_INBOUND_WEBHOOK", "").strip()
    if explicit:
        return explicit
    contact = next(spec for spec in cfg.services() if spec.name == "contact")
    return f"http://127.0.0.1:{contact.port}/channels/sms/inbound"


def _argv(cfg: StackConfig) -> list[str]:
    argv = ["-m", MODULE, "--host", HOST, "--port", str(cfg.sms_port), "--directory", str(cfg.sms_dir)]
    fail = fail_numbers_from_env()
    if fail:
        argv += ["--fail-numbers", ",".join(fail)]
    return [*argv, "--inbound-webhook", inbound_webhook(cfg)]


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as resp:  # noqa: S310 (our URL)
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _accepts_key(url: str, api_key: str) -> bool:
    request = urllib.request.Request(  # noqa: S310 (our URL)
        f"{url}/v1/messages?to=%2B0", headers={"Authorization": f"Bearer {api_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def running_pid(cfg: StackConfig) -> int | None:
    return live_pid(cfg.sms_pid_file, MODULE)


def start(cfg: StackConfig, api_key: str, timeout: float = 30.0) -> bool:
    """Start the gateway unless ours already runs with these settings and this key. True when this call
    started it."""
    argv = _argv(cfg)
    pid = running_pid(cfg)
    if pid is not None and (
        pid_argv(pid)[1:] != argv
        or (healthy(cfg.sms_gateway_url) and not _accepts_key(cfg.sms_gateway_url, api_key))
    ):
        log.info("the SMS gateway runs with other settings or another key; restarting it")
        stop(cfg)
        pid = None
    started = pid is None
    if pid is None:
        if port_open(HOST, cfg.sms_port):
            raise StackError(
                f"port {cfg.sms_port} is taken by a process this stack did not start; stop it, "
                "or set DCP_SMS_PORT, or point SMS_GATEWAY_URL (and SMS_GATEWAY_API_KEY) at that gateway"
            )
        cfg.sms_dir.mkdir(parents=True, exist_ok=True)
        pid = spawn(
            [sys.executable, *argv],
            log_file=cfg.sms_log,
            pid_file=cfg.sms_pid_file,
            env={**os.environ, API_KEY_ENV: api_key},  # not on the command line, where `ps` shows it
            cwd=cfg.repo_root,
        )
    failure = wait_until(lambda: healthy(cfg.sms_gateway_url), pid=pid, timeout=timeout)
    if failure is not None:
        if started:
            terminate(pid, 5)
            cfg.sms_pid_file.unlink(missing_ok=True)
        raise StackError(
            f"the SMS gateway on port {cfg.sms_port} {failure} during start-up\n"
            f"--- {cfg.sms_log} ---\n{tail(cfg.sms_log)}"
        )
    return started


def stop(cfg: StackConfig, timeout: float = 10.0) -> bool:
    """Stop our gateway. True if it was running (its records stay in the folder)."""
    pid = running_pid(cfg)
    if pid is not None:
        terminate(pid, timeout)
    cfg.sms_pid_file.unlink(missing_ok=True)
    return pid is not None


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--directory", type=Path, required=True, help="where the records are kept")
    parser.add_argument("--api-key", help=f"the API key (default: ${API_KEY_ENV})")
    parser.add_argument("--fail-numbers", default="", help="comma-separated numbers reported as failed")
    parser.add_argument("--inbound-webhook", help="where simulated replies go when the request names none")
    parser.add_argument("--receipt-delay", type=float, default=0.05, help="seconds before the receipt")
    args = parser.parse_args(argv)
    api_key = args.api_key or os.environ.get(API_KEY_ENV, "").strip()
    if not api_key:
        parser.error(f"an API key is needed: --api-key or ${API_KEY_ENV}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = GatewaySettings(
        api_key=api_key,
        directory=args.directory,
        fail_numbers=frozenset(_numbers(args.fail_numbers)),
        inbound_webhook=args.inbound_webhook,
        receipt_delay=args.receipt_delay,
    )
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
