"""Bearer JWT: HS256 and RS256 (JWKS) tokens, expiry, issuer/audience, roles; failures as problem+json."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends
from jwt.algorithms import RSAAlgorithm

from dcp_devstack.testing import bearer_token
from dcp_platform.auth import CurrentPrincipal, Principal, Role, require_roles
from dcp_platform.clock import FixedClock
from dcp_platform.context import current_actor
from dcp_platform.settings import DEV_HS256_SECRET

from .conftest import SECRET, make_settings

router = APIRouter()


@router.get("/me")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    actor = current_actor()
    return {"principal": principal.model_dump(mode="json"), "actor": actor.envelope_extensions()}


@router.post("/reassign", dependencies=[Depends(require_roles(Role.SUPERVISOR, Role.ADMIN))])
async def reassign() -> dict[str, str]:
    return {"status": "done"}


# A token Alice (agency A1) would present, signed with the unit tests' key; keyword overrides (`secret`,
# `issuer`, `audience`, `clock`, `ttl_seconds`, ...) mint the ones the service must refuse.
token = functools.partial(bearer_token, subject="alice", secret=SECRET, agency_id="A1")


def auth(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def assert_problem(response: httpx.Response, status: int, type_suffix: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == f"https://errors.dcp.example/{type_suffix}"
    return body


@pytest.fixture
def client(build_client: Callable[..., httpx.AsyncClient]) -> httpx.AsyncClient:
    return build_client(router)


async def test_valid_hs256_token_yields_the_principal_and_the_actor(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers={**auth(token()), "X-Correlation-ID": "corr-1"})
    assert response.status_code == 200
    body = response.json()
    assert Principal.model_validate(body["principal"]) == Principal(
        subject="alice", role=Role.COLLECTOR, agency_id="A1"
    )
    assert body["actor"]["actor"] == "alice"
    assert body["actor"]["actorrole"] == "collector"
    assert body["actor"]["correlationid"] == "corr-1"
    assert body["actor"]["traceparent"].startswith("00-")


async def test_missing_token_is_401_with_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "bad_token",
    [
        pytest.param(
            token(clock=FixedClock(datetime.now(UTC) - timedelta(hours=2)), ttl_seconds=60), id="expired"
        ),
        pytest.param(token(secret="some-other-secret-of-decent-length"), id="wrong-key"),
        pytest.param(token(audience="someone-else"), id="wrong-audience"),
        pytest.param(token(issuer="https://evil.example"), id="wrong-issuer"),
        pytest.param("not.a.jwt", id="garbage"),
        pytest.param(jwt.encode({"sub": "x", "role": "admin"}, key=None, algorithm="none"), id="alg-none"),
    ],
)
async def test_invalid_tokens_are_401_problems(client: httpx.AsyncClient, bad_token: str) -> None:
    response = await client.get("/me", headers=auth(bad_token))
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_role_is_401(client: httpx.AsyncClient) -> None:
    forged = jwt.encode(
        {
            "sub": "x",
            "role": "superuser",
            "iss": "dcp",
            "aud": "dcp-api",
            "exp": datetime.now(UTC) + timedelta(1),
        },
        SECRET,
        algorithm="HS256",
    )
    assert_problem(await client.get("/me", headers=auth(forged)), 401, "unauthorized")


async def test_wrong_role_is_403_and_allowed_roles_pass(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/reassign", headers=auth(token(Role.AUDITOR))), 403, "forbidden")
    assert body["allowed_roles"] == ["admin", "supervisor"]
    assert (await client.post("/reassign", headers=auth(token(Role.SUPERVISOR)))).status_code == 200


@pytest.fixture
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwk.update({"kid": "test-key", "use": "sig", "alg": "RS256"})
    document = json.dumps({"keys": [jwk]}).encode()

    class JWKSHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), JWKSHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def rs256_token(key: rsa.RSAPrivateKey, *, kid: str | None = "test-key", role: str = "auditor") -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": "bob",
        "role": role,
        "iss": "dcp",
        "aud": "dcp-api",
        "iat": now,
        "exp": now + timedelta(1),
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid} if kid else None)


async def test_rs256_token_verified_with_keys_from_the_jwks_url(
    build_client: Callable[..., httpx.AsyncClient], jwks_url: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    client = build_client(router, settings=make_settings(auth_jwt_jwks_url=jwks_url))
    response = await client.get("/me", headers=auth(rs256_token(rsa_key)))
    assert response.status_code == 200
    assert response.json()["principal"]["role"] == "auditor"

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_problem(await client.get("/me", headers=auth(rs256_token(other_key))), 401, "unauthorized")
    unknown_kid = rs256_token(rsa_key, kid="rotated-away")
    assert_problem(await client.get("/me", headers=auth(unknown_kid)), 401, "unauthorized")
    # a token naming no key: the JWKS's only key checks it (and a forged one still fails)
    assert (await client.get("/me", headers=auth(rs256_token(rsa_key, kid=None)))).status_code == 200
    no_kid_forged = rs256_token(other_key, kid=None)
    assert_problem(await client.get("/me", headers=auth(no_kid_forged)), 401, "unauthorized")


async def test_rs256_is_refused_when_no_jwks_is_configured(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    assert_problem(await client.get("/me", headers=auth(rs256_token(rsa_key))), 401, "unauthorized")


async def test_hs256_is_refused_outside_dev_without_a_configured_secret(
    build_client: Callable[..., httpx.AsyncClient], jwks_url: str
) -> None:
    settings = make_settings(DCP_ENV="prod", auth_jwt_hs256_secret=None, auth_jwt_jwks_url=jwks_url)
    client = build_client(router, settings=settings)
    dev_token = token(secret=DEV_HS256_SECRET)
    assert_problem(await client.get("/me", headers=auth(dev_token)), 401, "unauthorized")


def test_outside_dev_the_development_secret_and_short_secrets_are_refused() -> None:
    import pytest
    from pydantic import ValidationError

    from dcp_platform.settings import DEV_HS256_SECRET

    for secret, why in (
        (DEV_HS256_SECRET, "published development secret"),
        ("short-secret", "at least 32 bytes"),
    ):
        with pytest.raises(ValidationError, match=why):
            make_settings(DCP_ENV="prod", auth_jwt_hs256_secret=secret)
    ok = make_settings(DCP_ENV="prod", auth_jwt_hs256_secret="x" * 32)
    assert ok.hs256_secret is not None
    assert make_settings(auth_jwt_hs256_secret="short").hs256_secret is not None  # dev: any key
