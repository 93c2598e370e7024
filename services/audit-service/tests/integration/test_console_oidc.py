"""Signing in to the console with an OpenID Connect provider (a real one on loopback: authlib's
authorization server, as oidc-provider-mock runs it): the browser goes to the provider and back with a
code, the console trades it for the ID token, which the API then checks as any bearer (its signature
from the provider's JWKS, issuer, audience, role). A forged state, a provider that says no, and a
user without a role get no session; with a provider set, the development sign-in is off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_service.main import MIGRATIONS, create_app
from dcp_devstack.testing import service_under_test

from .conftest import audit_settings, ingestor_assigned

pytestmark = pytest.mark.integration

CLIENT_ID = "dcp-console"
CALLBACK = "http://audit/console/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    from oidc_provider_mock import User, run_server_in_thread

    users = [
        User(sub="alice@bank.example", claims={"role": "auditor", "name": "Alice"}),
        User(sub="sam@bank.example", claims={"role": "supervisor"}),
        User(sub="eve@bank.example", claims={"name": "Eve"}),  # no role of the platform
    ]
    with run_server_in_thread(user_claims=users, require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
async def console(
    provider: str, kafka_bootstrap: str, database_server_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = audit_settings(
        Ed25519PrivateKey.generate(),
        auth_jwt_jwks_url=f"{provider}/jwks",
        auth_jwt_issuer=provider,
        auth_jwt_audience=CLIENT_ID,
        console_oidc_issuer=provider,
        console_oidc_client_id=CLIENT_ID,
        console_oidc_client_secret="console-secret",
        console_oidc_redirect_url=CALLBACK,
        console_oidc_scopes="openid profile",
        console_oidc_bearer="id_token",
    )
    async with service_under_test(
        create_app,
        settings,
        MIGRATIONS,
        database_server_url=database_server_url,
        kafka_bootstrap=kafka_bootstrap,
        base_url="http://audit",
        ready=ingestor_assigned,
        database_prefix="t_audit_oidc",
        topic_prefix="tao",
    ) as running:
        yield running.client


async def _through_the_provider(console: httpx.AsyncClient, subject: str | None) -> httpx.Response:
    """Sign in at the console, choose `subject` at the provider (None: deny), come back."""
    browser = httpx.AsyncClient(transport=console._transport, base_url=str(console.base_url))
    started = await browser.get("/console/login")
    assert started.status_code == 303, started.text
    authorize = started.headers["location"]
    query = dict(p.split("=", 1) for p in urlsplit(authorize).query.split("&"))
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
    assert query["client_id"] == CLIENT_ID and query["nonce"] and query["state"]
    async with httpx.AsyncClient() as idp:
        form = await idp.get(authorize)
        assert form.status_code == 200 and 'name="sub"' in form.text
        answer = await idp.post(authorize, data={"sub": subject} if subject else {"action": "deny"})
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    response = await browser.get(f"{back.path}?{back.query}")
    response.extensions["browser"] = browser
    return response


async def test_an_auditor_signs_in_through_the_provider_and_reads_the_trail(
    console: httpx.AsyncClient,
) -> None:
    back = await _through_the_provider(console, "alice@bank.example")
    browser: httpx.AsyncClient = back.extensions["browser"]
    try:
        assert back.status_code == 303 and back.headers["location"] == "/console/entries", back.text
        assert "httponly" in back.headers["set-cookie"].lower()
        page = await browser.get("/console/entries")
        assert page.status_code == 200 and "alice@bank.example (auditor)" in page.text
        # the session is the provider's token: the API checked its signature, issuer and audience
        assert (await browser.get("/console/verify")).status_code == 200
        # the same callback twice (a replayed code) starts nothing: the flow's cookie is spent
        assert (await browser.get("/console/callback?code=x&state=y")).status_code == 400
        # signing out ends the provider's session too, and comes back to the signed-out page
        out = await browser.get("/console/logout")
        assert out.status_code == 303 and 'dcp_console_token=""' in out.headers["set-cookie"]
        ending = urlsplit(out.headers["location"])
        asked = dict(p.split("=", 1) for p in ending.query.split("&"))
        assert ending.path == "/oauth2/end_session" and asked["id_token_hint"]
        assert unquote(asked["post_logout_redirect_uri"]) == "http://audit/console/signed-out"
        assert (await browser.get("/console/signed-out")).status_code == 200
        assert (await browser.get("/console/entries")).status_code == 303  # no session any more
    finally:
        await browser.aclose()


async def test_a_supervisor_lands_on_the_portfolio(console: httpx.AsyncClient) -> None:
    back = await _through_the_provider(console, "sam@bank.example")
    await back.extensions["browser"].aclose()
    assert back.status_code == 303 and back.headers["location"] == "/console/portfolio"


async def test_no_session_without_a_role_a_consent_or_the_flow_that_was_started(
    console: httpx.AsyncClient,
) -> None:
    roleless = await _through_the_provider(console, "eve@bank.example")
    await roleless.extensions["browser"].aclose()
    assert roleless.status_code == 401 and "dcp_console_token" not in roleless.headers.get("set-cookie", "")
    assert "role" in roleless.text

    denied = await _through_the_provider(console, None)
    await denied.extensions["browser"].aclose()
    assert denied.status_code == 401 and "denied the request" in denied.text

    # a code and state this browser never asked for (a login CSRF): refused
    forged = await console.get("/console/callback", params={"code": "abc", "state": "forged"})
    assert forged.status_code == 400 and "dcp_console_token" not in forged.headers.get("set-cookie", "")

    # with a provider set, no development sign-in
    dev = await console.post("/console/login", data={"role": "admin", "subject": "x", "lang": "en"})
    assert dev.status_code == 404
    assert (await console.get("/console/login", params={"as": "admin"})).status_code == 303  # to the provider
