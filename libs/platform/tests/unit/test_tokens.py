"""`dcp-token` prints a token that the platform's own verifier accepts with the asked-for claims."""

from __future__ import annotations

import jwt
import pytest
from typer.testing import CliRunner

from dcp_platform.auth import Role, TokenVerifier
from dcp_platform.settings import DEV_HS256_SECRET
from dcp_platform.tokens import app

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("no_settings_env")


def test_dev_token_carries_role_subject_and_agency() -> None:
    result = runner.invoke(
        app, ["--role", "auditor", "--subject", "alice", "--agency-id", "A1", "--ttl", "60"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    claims = jwt.decode(token, DEV_HS256_SECRET, algorithms=["HS256"], audience="dcp-api", issuer="dcp")
    assert (claims["role"], claims["sub"], claims["agency_id"]) == ("auditor", "alice", "A1")
    assert claims["exp"] - claims["iat"] == 60
    principal = TokenVerifier(issuer="dcp", audience="dcp-api", hs256_secret=DEV_HS256_SECRET).verify(token)
    assert principal.role is Role.AUDITOR


def test_configured_secret_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCP_ENV", "staging")
    monkeypatch.setenv("AUTH_JWT_HS256_SECRET", "staging-secret-of-a-reasonable-length")
    monkeypatch.setenv("DATA_KEYS_DATABASE_URL", "postgresql://vault@127.0.0.1:5432/data_keys")
    monkeypatch.setenv("DATA_MASTER_KEYS", "k1:" + "A" * 43 + "=")
    result = runner.invoke(app, ["--role", "collector"])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(
        result.stdout.strip(),
        "staging-secret-of-a-reasonable-length",
        algorithms=["HS256"],
        audience="dcp-api",
    )
    assert claims["sub"] == "dev-collector"


def test_no_dev_default_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCP_ENV", "prod")
    monkeypatch.setenv("AUTH_JWT_JWKS_URL", "https://idp.example/jwks")
    result = runner.invoke(app, ["--role", "admin"])
    assert result.exit_code == 2
    assert result.stdout.strip() == ""
