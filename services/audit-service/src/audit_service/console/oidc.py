"""Signing in to the console with the organisation's identity provider: OpenID Connect, the
authorization code flow with PKCE (RFC 7636), a state and a nonce. The token the provider issues
(CONSOLE_OIDC_BEARER: its access token, or its ID token) becomes the caller's bearer for the APIs,
which check it as they check every token (AUTH_JWT_JWKS_URL, AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE and
its `role` claim): the console grants nothing the token does not."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from audit_service.console.pages import TOKEN_COOKIE, page
from dcp_platform.auth import Principal, TokenVerifier
from dcp_platform.problems import Unauthorized

FLOW_COOKIE = "dcp_console_oidc"
FLOW_SECONDS = 600


def configured(request: Request) -> bool:
    return bool(request.app.state.settings.console_oidc_issuer)


async def _metadata(request: Request) -> dict[str, Any]:
    """The provider's discovery document (OpenID Connect Discovery 1.0), fetched once."""
    cached: dict[str, Any] | None = getattr(request.app.state, "console_oidc_metadata", None)
    if cached is not None:
        return cached
    issuer = str(request.app.state.settings.console_oidc_issuer).rstrip("/")
    async with httpx.AsyncClient(timeout=10.0) as client:
        answer = await client.get(f"{issuer}/.well-known/openid-configuration")
    answer.raise_for_status()
    document: dict[str, Any] = answer.json()
    for key in ("authorization_endpoint", "token_endpoint"):
        if not isinstance(document.get(key), str):
            raise ValueError(f"the provider's discovery document has no {key}")
    request.app.state.console_oidc_metadata = document
    return document


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def start(request: Request) -> Response:
    """Send the browser to the provider, keeping the flow's state and PKCE verifier in a cookie."""
    settings = request.app.state.settings
    try:
        metadata = await _metadata(request)
    except (httpx.HTTPError, ValueError) as exc:
        message = f"The identity provider did not answer ({type(exc).__name__})."
        return page(request, "error.html", 503, status=503, message=message)
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    query = {
        "response_type": "code",
        "client_id": settings.console_oidc_client_id,
        "redirect_uri": settings.console_oidc_redirect_url,
        "scope": settings.console_oidc_scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    response = RedirectResponse(f"{metadata['authorization_endpoint']}?{urlencode(query)}", status_code=303)
    # Lax: the provider sends the browser back with a top-level GET from its own site
    response.set_cookie(
        FLOW_COOKIE,
        f"{state}.{nonce}.{verifier}",
        httponly=True,
        samesite="lax",
        max_age=FLOW_SECONDS,
        path="/console",
        secure=str(settings.console_oidc_redirect_url or "").startswith("https://"),
    )
    return response


async def finish(request: Request) -> Response:
    """The provider's answer: check the state, trade the code (with the PKCE verifier) for tokens,
    check the token as the APIs will, keep it in the console's cookie."""
    settings = request.app.state.settings
    if error := request.query_params.get("error"):
        why = request.query_params.get("error_description") or error
        return page(request, "error.html", 401, status=401, message=f"The identity provider said: {why}")
    kept = (request.cookies.get(FLOW_COOKIE) or "").split(".")
    state = request.query_params.get("state") or ""
    code = request.query_params.get("code") or ""
    if len(kept) != 3 or not code or not hmac.compare_digest(kept[0], state):
        message = "This sign-in was not started here, or took too long: sign in again."
        return page(request, "error.html", 400, status=400, message=message)
    try:
        metadata = await _metadata(request)
        secret = settings.console_oidc_client_secret
        auth: httpx.Auth | httpx._client.UseClientDefault = (
            httpx.BasicAuth(settings.console_oidc_client_id, secret.get_secret_value())
            if secret
            else httpx.USE_CLIENT_DEFAULT
        )
        async with httpx.AsyncClient(timeout=10.0) as client:
            answer = await client.post(
                metadata["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": settings.console_oidc_redirect_url,
                    "client_id": settings.console_oidc_client_id,
                    "code_verifier": kept[2],
                },
                auth=auth,
            )
    except (httpx.HTTPError, ValueError) as exc:
        message = f"The identity provider did not answer ({type(exc).__name__})."
        return page(request, "error.html", 503, status=503, message=message)
    if answer.status_code != 200:
        return page(request, "error.html", 401, status=401, message="The identity provider refused the code.")
    tokens = answer.json()
    token = tokens.get(settings.console_oidc_bearer)
    if not isinstance(token, str) or not token:
        message = f"The identity provider returned no {settings.console_oidc_bearer}."
        return page(request, "error.html", 401, status=401, message=message)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal: Principal = await run_in_threadpool(verifier.verify, token)
    except Unauthorized as exc:
        return page(request, "error.html", 401, status=401, message=str(exc.detail))
    if settings.console_oidc_bearer == "id_token" and not _nonce_matches(token, kept[1]):
        return page(request, "error.html", 400, status=400, message="The ID token answers another sign-in.")
    from audit_service.console.routes import landing  # the pages' module imports this one

    response = RedirectResponse(landing(principal.role.value), status_code=303)
    lifetime = int(tokens.get("expires_in") or 3600)
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        max_age=max(60, min(lifetime, 12 * 3600)),
        secure=str(settings.console_oidc_redirect_url or "").startswith("https://"),
    )
    response.delete_cookie(FLOW_COOKIE, path="/console")
    return response


async def end_session(request: Request, token: str | None) -> Response | None:
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): to the provider's end-session
    endpoint, which sends the browser back to the console's signed-out page; None when the provider
    has none."""
    settings = request.app.state.settings
    try:
        metadata = await _metadata(request)
    except (httpx.HTTPError, ValueError):
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not isinstance(endpoint, str):
        return None
    callback = str(settings.console_oidc_redirect_url)
    query = {
        "client_id": settings.console_oidc_client_id,
        "post_logout_redirect_uri": callback.rsplit("/callback", 1)[0] + "/signed-out",
    }
    if token and settings.console_oidc_bearer == "id_token":
        query["id_token_hint"] = token
    return RedirectResponse(f"{endpoint}?{urlencode(query)}", status_code=303)


def _nonce_matches(id_token: str, nonce: str) -> bool:
    import jwt

    claims = jwt.decode(id_token, options={"verify_signature": False})  # verified just above
    return hmac.compare_digest(str(claims.get("nonce") or ""), nonce)
