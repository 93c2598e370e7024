"""Settings: database URLs derived per service, secrets never shown, no dev key outside dev."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from dcp_platform.clock import FixedClock
from dcp_platform.settings import DEV_HS256_SECRET, ServiceSettings

pytestmark = pytest.mark.usefixtures("no_settings_env")


def test_service_database_is_derived_from_the_server_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://dcp:pw@db.internal:5432/postgres")
    settings = ServiceSettings(service_name="case-service")
    assert settings.sqlalchemy_url == "postgresql+asyncpg://dcp:pw@db.internal:5432/case_service"
    assert settings.database_dsn == "postgresql://dcp:pw@db.internal:5432/case_service"
    assert "pw" not in settings.database_url_for_logs


def test_service_database_url_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_DATABASE_URL", "postgresql://u@h:1/custom")
    assert ServiceSettings(service_name="case-service").sqlalchemy_url == "postgresql+asyncpg://u@h:1/custom"


def test_secrets_are_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_JWT_HS256_SECRET", "super-secret-value")
    monkeypatch.setenv("DATABASE_URL", "postgresql://dcp:pw-in-url@db:5432/postgres")
    settings = ServiceSettings()
    assert "super-secret-value" not in repr(settings)
    assert "pw-in-url" not in repr(settings)


def test_dev_default_secret_only_in_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATA_KEYS_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATA_MASTER_KEYS", raising=False)
    dev = ServiceSettings()
    assert dev.hs256_secret is not None
    assert dev.hs256_secret.get_secret_value() == DEV_HS256_SECRET
    monkeypatch.setenv("DCP_ENV", "prod")
    with pytest.raises(ValidationError, match="AUTH_JWT_HS256_SECRET"):
        ServiceSettings()
    monkeypatch.setenv("AUTH_JWT_JWKS_URL", "https://idp.example/jwks")
    with pytest.raises(ValidationError, match="DATA_KEYS_DATABASE_URL"):
        ServiceSettings()
    monkeypatch.setenv("DATA_KEYS_DATABASE_URL", "postgresql://vault@127.0.0.1:5432/data_keys")
    monkeypatch.setenv("DATA_MASTER_KEYS", "k1:" + "A" * 43 + "=")
    assert ServiceSettings().hs256_secret is None


def test_fixed_clock_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOCK_MODE", "fixed")
    monkeypatch.setenv("CLOCK_FIXED_AT", "2024-05-01T10:00:00+00:00")
    clock = ServiceSettings().make_clock()
    assert isinstance(clock, FixedClock)
    assert clock.now() == datetime(2024, 5, 1, 10, tzinfo=UTC)
