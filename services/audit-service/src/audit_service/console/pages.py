"""What every console page shares: rendering in the user's language, and the APIs it reads as the
signed-in caller (the audit API in-process; case-service's KPIs over HTTP), so roles, creditor scope
and masking are the APIs' own, never re-implemented here."""

from __future__ import annotations

from importlib import resources
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from audit_service.console import i18n
from dcp_platform.context import CORRELATION_ID_HEADER, current_correlation_id

TOKEN_COOKIE = "dcp_console_token"  # noqa: S105 - a cookie name, not a secret
AUDITOR_ROLES = frozenset({"auditor", "admin"})
SUPERVISOR_ROLES = frozenset({"supervisor", "admin", "auditor"})

# No script of any kind: the pages are plain HTML and inline SVG.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)

_templates = Environment(
    loader=FileSystemLoader(str(resources.files("audit_service.console") / "templates")),
    autoescape=select_autoescape(["html"]),
)


class Unreachable(Exception):
    """A service the page reads did not answer."""


def page(request: Request, template: str, code: int = 200, **values: Any) -> HTMLResponse:
    lang = i18n.language(request)
    who = getattr(request.state, "console_subject", None)
    role = getattr(request.state, "console_role", None)
    html = _templates.get_template(template).render(
        lang=lang,
        t=i18n.words(lang),
        term=lambda value: i18n.term(lang, value),
        who=who,
        shows_audit=role in AUDITOR_ROLES,
        shows_supervision=role in SUPERVISOR_ROLES,
        **values,
    )
    response = HTMLResponse(html, status_code=code)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, lang, samesite="lax", max_age=365 * 86400)
    return response


def _bearer(request: Request) -> dict[str, str]:
    """The caller's token, and the page's correlation id (one request id across the services' logs)."""
    headers = {"Authorization": f"Bearer {request.cookies.get(TOKEN_COOKIE, '')}"}
    if correlation := current_correlation_id():
        headers[CORRELATION_ID_HEADER] = correlation
    return headers


async def audit_api(request: Request, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
    """The audit API, in-process, as the signed-in caller."""
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://audit-service") as client:
        return await client.get(path, params=params, headers=_bearer(request))


async def case_api(request: Request, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
    """case-service's API (CONSOLE_CASE_SERVICE_URL), as the signed-in caller."""
    base = request.app.state.console_case_service_url
    try:
        async with httpx.AsyncClient(base_url=base, timeout=15.0) as client:
            return await client.get(path, params=params, headers=_bearer(request))
    except httpx.HTTPError as exc:
        raise Unreachable(f"case-service ({base}) did not answer: {type(exc).__name__}") from exc


def refused(request: Request, answer: httpx.Response) -> HTMLResponse:
    return page(request, "error.html", answer.status_code, status=answer.status_code, message=detail(answer))


def detail(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("detail") or answer.reason_phrase)
    except ValueError:
        return answer.reason_phrase
