"""The console's pages. Each page asks the audit API in-process with the caller's own token and
renders the answer, so roles, creditor scope and masking are the API's, never re-implemented here.
The token lives in an HttpOnly cookie; the middleware hands it to the API as the bearer, and turns
an API refusal on a console page into a page (sign in again, or not permitted)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from audit_service.console import i18n, oidc, supervisor
from audit_service.console.pages import (
    CONTENT_SECURITY_POLICY,
    TOKEN_COOKIE,
    audit_api,
    page,
    refused,
)
from dcp_platform.auth import Principal, Role, require_roles
from dcp_platform.settings import DEV_HS256_SECRET
from dcp_platform.tokens import issue_token

DEV_ROLES = ("auditor", "admin", "supervisor", "collector")

Auditor = Depends(require_roles(Role.AUDITOR, Role.ADMIN))
router = APIRouter(prefix="/console", include_in_schema=False)
_page = page
_api = audit_api
_refused = refused


def _dev(request: Request) -> bool:
    return bool(request.app.state.console_dev_login)


@router.get("/login")
async def login_page(request: Request) -> Response:
    """The sign-in page: the organisation's identity provider when one is set (OpenID Connect), else
    in dev a token for a chosen role; `?as=<role>` signs in at once (the links `make run` prints)."""
    if oidc.configured(request):
        return await oidc.start(request)
    if not _dev(request):
        return _page(
            request,
            "error.html",
            404,
            status=404,
            message="Sign in with your organisation's identity provider (CONSOLE_OIDC_ISSUER).",
        )
    role = request.query_params.get("as")
    if role is not None:
        if role not in DEV_ROLES:
            return _page(request, "error.html", 404, status=404, message="No development sign-in here.")
        return _signed_in(request, role, f"{role}-dev", i18n.language(request))
    return _page(request, "login.html", roles=DEV_ROLES)


@router.get("/callback")
async def callback(request: Request) -> Response:
    """Where the identity provider sends the browser back with the authorization code."""
    if not oidc.configured(request):
        return _page(request, "error.html", 404, status=404, message="No identity provider is set.")
    return await oidc.finish(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Development sign-in (DCP_ENV=dev only): a token for the chosen role, kept in the cookie."""
    form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
    role = (form.get("role") or [""])[0]
    subject = (form.get("subject") or [""])[0][:128]
    lang = (form.get("lang") or ["en"])[0]
    if not _dev(request) or oidc.configured(request) or role not in DEV_ROLES or not subject.strip():
        return _page(request, "error.html", 404, status=404, message="No development sign-in here.")
    return _signed_in(request, role, subject.strip(), lang)


def _signed_in(request: Request, role: str, subject: str, lang: str) -> Response:
    settings = request.app.state.settings
    secret = (
        settings.auth_jwt_hs256_secret.get_secret_value()
        if settings.auth_jwt_hs256_secret
        else DEV_HS256_SECRET
    )
    token = issue_token(
        secret=secret,
        role=Role(role),
        subject=subject,
        issuer=settings.auth_jwt_issuer,
        audience=settings.auth_jwt_audience,
        ttl_seconds=8 * 3600,
    )
    response = RedirectResponse(
        f"{landing(role)}?lang={lang if lang in i18n.LANGUAGES else 'en'}", status_code=303
    )
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", max_age=8 * 3600)
    return response


def landing(role: str | None) -> str:
    """The first page of a role: the trail for auditors, the portfolio for supervisors."""
    return "/console/portfolio" if role == "supervisor" else "/console/entries"


@router.get("/logout")
async def logout(request: Request) -> Response:
    """Sign out: the console's cookie goes; with an identity provider, its session too."""
    ended = (
        await oidc.end_session(request, request.cookies.get(TOKEN_COOKIE))
        if oidc.configured(request)
        else None
    )
    response = ended or RedirectResponse(
        "/console/signed-out" if oidc.configured(request) else "/console/login", status_code=303
    )
    response.delete_cookie(TOKEN_COOKIE)
    return response


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    words = i18n.words(i18n.language(request))
    return _page(request, "error.html", 200, status=words["signed_out"], message=words["signed_out_note"])


@router.get("")
async def home(request: Request) -> Response:
    return RedirectResponse(landing(getattr(request.state, "console_role", None)), status_code=303)


_FILTERS = ("case_id", "actor", "type", "from", "to")


@router.get("/entries")
async def entries(request: Request, _: Principal = Auditor) -> Response:
    """Search the trail (case, actor, type, time range), a page at a time."""
    filters = {k: request.query_params.get(k) or None for k in _FILTERS}
    params: dict[str, Any] = {k: _as_utc(v) if k in ("from", "to") else v for k, v in filters.items() if v}
    if request.query_params.get("cursor"):
        params["cursor"] = request.query_params["cursor"]
    answer = await _api(request, "/audit/entries", {**params, "limit": 50})
    if answer.status_code != 200:
        return _refused(request, answer)
    body = answer.json()
    next_cursor = body.get("next_cursor")
    keep = {k: v for k, v in request.query_params.items() if k != "cursor"}
    next_link = f"/console/entries?{urlencode({**keep, 'cursor': next_cursor})}" if next_cursor else None
    export_query = urlencode({k: v for k, v in filters.items() if v})
    return _page(
        request,
        "entries.html",
        export_query=export_query,
        items=body["items"],
        filters=filters,
        next_cursor=next_cursor,
        next_link=next_link,
    )


@router.get("/cases/{case_id}")
async def case_trail(case_id: str, request: Request, _: Principal = Auditor) -> Response:
    """A case's trail across the services as a timeline: contacts allowed and refused with the rule
    and citation, promises, payments, holds, stage changes."""
    answer = await _api(request, f"/audit/cases/{case_id}/trail", {"limit": 1000})
    if answer.status_code != 200:
        return _refused(request, answer)
    items = [_timeline_item(e) for e in answer.json()["items"]]
    return _page(request, "case.html", case_id=case_id, items=items)


@router.get("/verify")
async def verify(request: Request, _: Principal = Auditor) -> Response:
    """Verification of every chain, the newest checkpoint and its age, the completeness check."""
    answer = await _api(request, "/audit/verify")
    if answer.status_code != 200:
        return _refused(request, answer)
    report = answer.json()
    broken = [(c, c["first_broken_link"]) for c in report["chains"] if c.get("first_broken_link")]
    problems = [f"{c['topic']}[{c['partition']}]: entry {b['entry_id']}: {b['reason']}" for c, b in broken]
    problems += report["checkpoints"]["problems"] + report["kafka"]["problems"]
    listed = (await _api(request, "/audit/checkpoints")).json().get("checkpoints") or []
    newest = listed[-1]["signed"] if listed else None
    age = None
    if newest and newest.get("created_at"):
        signed = datetime.fromisoformat(str(newest["created_at"]).replace("Z", "+00:00"))
        age = f"{(request.app.state.clock.now() - signed).total_seconds():.0f} s"
    return _page(
        request,
        "verify.html",
        ok=bool(report["ok"]),
        report={"entries": report["entries"], "chain_count": len(report["chains"])},
        chains=report["chains"],
        unsigned=report.get("unsigned_entries", 0),
        problems=problems,
        checkpoint=newest,
        checkpoint_age=age,
        kafka=report["kafka"],
    )


@router.get("/entries/{entry_id}/proof")
async def proof(entry_id: int, request: Request, _: Principal = Auditor) -> Response:
    """The entry's inclusion proof with the public key that verifies the checkpoint it is proved
    against: one file to check offline (`audit-verify`)."""
    answer = await _api(request, f"/audit/entries/{entry_id}/proof")
    if answer.status_code != 200:
        return _refused(request, answer)
    key = await _api(request, "/audit/public-key")
    document = {"entry_id": entry_id, "proof": answer.json(), "public_key": key.json()}
    return Response(
        json.dumps(document, indent=2, sort_keys=True),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="proof-{entry_id}.json"'},
    )


@router.get("/export")
async def export(request: Request, _: Principal = Auditor) -> Response:
    """The current search as JSON Lines or CSV, from the API's export (the same masking)."""
    fmt = "csv" if request.query_params.get("format") == "csv" else "jsonl"
    params: dict[str, Any] = {
        k: _as_utc(v) if k in ("from", "to") else v for k in _FILTERS if (v := request.query_params.get(k))
    }
    answer = await _api(request, "/audit/export", {**params, "format": fmt})
    if answer.status_code != 200:
        return _refused(request, answer)
    return Response(
        answer.content,
        media_type=answer.headers.get("content-type", "application/octet-stream"),
        headers={"Content-Disposition": f'attachment; filename="trail.{fmt}"'},
    )


@router.get("/findings")
async def findings(request: Request, _: Principal = Auditor) -> Response:
    """Compliance findings, each with the entries that prove it."""
    params = {k: v for k in ("case_id", "rule_id") if (v := request.query_params.get(k))}
    answer = await _api(request, "/audit/findings", params)
    if answer.status_code != 200:
        return _refused(request, answer)
    body = answer.json()
    return _page(request, "findings.html", items=body["findings"], checked=body["attempts_checked"])


def _timeline_item(entry: dict[str, Any]) -> dict[str, Any]:
    event = entry.get("event") or {}
    data = event.get("data") if isinstance(event, dict) else None
    kind = str(entry.get("type") or entry.get("kind") or "")
    label = (
        kind.rpartition(".v")[0].removeprefix("collections.").replace("_", " ").replace(".", " · ") or kind
    )
    summary = None
    if isinstance(data, dict):
        for key in ("reason", "hold_type", "to_stage", "outcome", "status"):
            if data.get(key):
                summary = f"{key.replace('_', ' ')}: {data[key]}"
                break
        amount = data.get("amount")
        if isinstance(amount, dict) and "amount_minor" in amount:
            summary = f"{amount['amount_minor'] / 100:,.2f} {amount.get('currency', '')}" + (
                f" · {summary}" if summary else ""
            )
    allowed = kind.startswith(("collections.contact.attempted.", "collections.contact.permit_issued."))
    if entry.get("decision"):
        summary = None  # the refusal's reason is shown with its rule
    return {**entry, "label": label, "summary": summary, "allowed": allowed}


def _as_utc(value: str) -> str:
    """A datetime-local field's value (no zone) read as UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


class ConsoleAuth(BaseHTTPMiddleware):
    """On console pages: the cookie's token as the bearer; a refusal as a page (401: sign in)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not request.url.path.startswith("/console"):
            return await call_next(request)
        if request.url.path.startswith(("/console/log", "/console/callback", "/console/signed-out")):
            return _secured(await call_next(request))
        token = request.cookies.get(TOKEN_COOKIE)
        if token and b"authorization" not in dict(request.scope["headers"]):
            request.scope["headers"] = [
                *request.scope["headers"],
                (b"authorization", f"Bearer {token}".encode()),
            ]
        if token:
            request.state.console_subject, request.state.console_role = _subject(token)
        response = _secured(await call_next(request))
        if response.status_code == 401:
            return RedirectResponse("/console/login", status_code=303)
        if response.status_code == 403 and response.headers.get("content-type", "").startswith(
            "application/problem"
        ):
            return _secured(
                _page(
                    request,
                    "error.html",
                    403,
                    status=403,
                    message=i18n.words(i18n.language(request))["forbidden"],
                )
            )
        return response


def _secured(response: Response) -> Response:
    """No script, no framing, no caching of pages that show the trail."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _subject(token: str) -> tuple[str | None, str | None]:
    """Who the cookie's token names, for the page's header and menu only: the API checks the token
    itself on every call."""
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None, None
    role = claims.get("role")
    return f"{claims.get('sub')} ({role})", role if isinstance(role, str) else None


def install(app: FastAPI, *, dev_login: bool, case_service_url: str) -> None:
    app.state.console_dev_login = dev_login
    app.state.console_case_service_url = case_service_url.rstrip("/")
    app.include_router(router)
    app.include_router(supervisor.router)
    app.add_exception_handler(supervisor.BadPeriod, supervisor.bad_period)
    app.add_middleware(ConsoleAuth)
