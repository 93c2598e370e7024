"""The audit service's settings (environment variables; see the README of the service)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import SecretStr, model_validator
from sqlalchemy.engine import make_url

from dcp_platform.settings import ServiceSettings

DEFAULT_DB_ROLE = "audit_trail_writer"


class AuditServiceSettings(ServiceSettings):
    service_name: str = "audit-service"
    http_port: int = 8004

    # The login role the service works as: INSERT and SELECT on the trail, nothing else there.
    # Created by the migrations; its password (if the server wants one) from AUDIT_DB_ROLE_PASSWORD.
    # Empty: use the service database URL's own user (it must already be such a role).
    audit_db_role: str = DEFAULT_DB_ROLE
    audit_db_role_password: SecretStr | None = None

    # Ed25519 key that signs checkpoints: base64 of the 32-byte seed or PKCS#8 PEM, or a file holding it.
    # In DCP_ENV=dev only, a key is generated into DCP_DATA_DIR when neither is set.
    audit_signing_key: SecretStr | None = None
    audit_signing_key_file: Path | None = None
    # Rotating the key: the old key, given once beside the new one, signs a checkpoint that announces
    # the new key (verifiers follow the chain of keys). Public keys of retired signing keys (PEM or
    # base64 of the raw 32 bytes, comma-separated) that online verification keeps trusting.
    audit_previous_signing_key: SecretStr | None = None
    audit_trusted_public_keys: str = ""
    dcp_data_dir: Path = Path(".local")
    # The key personal-data commitments derive their salts from (base64 of 32 bytes, or a file holding
    # it): a rebuild from Kafka with the same key commits identically. In DCP_ENV=dev only, generated
    # into DCP_DATA_DIR when neither is set.
    audit_commitment_key: SecretStr | None = None
    audit_commitment_key_file: Path | None = None
    # Master keys wrapping each case's data key (its openings are encrypted under it; an erasure destroys
    # it): `id:base64-of-32-bytes[,id:...]`, the first wraps new keys. Dev: generated into DCP_DATA_DIR.
    audit_master_keys: SecretStr | None = None

    # A checkpoint is signed (and published) this often, even when nothing changed, and after every
    # AUDIT_CHECKPOINT_EVERY_ENTRIES new entries; 0 turns either off. `/audit/verify` is not ok when the
    # newest checkpoint is older than twice the interval.
    audit_checkpoint_interval_seconds: float = 60.0
    audit_checkpoint_every_entries: int = 10000
    # Where checkpoints are published besides the database (never expires; acks=all), and an optional
    # directory each checkpoint is also written to as a file an operator ships elsewhere (a witness).
    audit_checkpoint_topic: str = "audit.checkpoints"
    # Records in Kafka older than this and not in the trail make `/audit/verify` fail (younger: lag).
    # Default: twice the checkpoint interval, at least 30 s.
    audit_ingest_grace_seconds: float | None = None
    audit_witness_dir: Path | None = None
    # How often the reconciliation of payments (payment-service against case-service) refreshes the
    # `dcp_reconciliation_divergences` gauge; 0: only on request (GET /audit/reconciliation).
    audit_reconcile_interval_seconds: float = 300.0
    audit_ingest_batch_size: int = 500
    # Roles that see phone numbers, e-mail addresses and national ids unmasked (comma-separated).
    audit_pii_roles: str = "admin"
    # More topics to record, beyond the catalogue's topics and their dead-letter topics (comma-separated).
    audit_extra_topics: str = ""

    # The console (/console) reads the supervisors' figures from case-service's /kpis, as the user.
    console_case_service_url: str = "http://127.0.0.1:8001"
    # Signing in to the console with the organisation's OpenID Connect provider (authorization code
    # with PKCE): its issuer URL (discovery at /.well-known/openid-configuration), this client's id and
    # secret (none: a public client), the callback URL registered with it (…/console/callback), the
    # scopes asked, and which token becomes the API bearer (access_token or id_token; the APIs check
    # it with AUTH_JWT_JWKS_URL, AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE and its `role` claim). With an
    # issuer set, the development sign-in is off, also in dev.
    console_oidc_issuer: str | None = None
    console_oidc_client_id: str | None = None
    console_oidc_client_secret: SecretStr | None = None
    console_oidc_redirect_url: str | None = None
    console_oidc_scopes: str = "openid profile"
    console_oidc_bearer: Literal["access_token", "id_token"] = "access_token"

    @model_validator(mode="after")
    def _check_audit(self) -> Self:
        if not self.is_dev and self.audit_signing_key is None and self.audit_signing_key_file is None:
            raise ValueError(
                "AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE is required when DCP_ENV is not 'dev'"
            )
        if not self.is_dev and self.audit_master_keys is None:
            raise ValueError("AUDIT_MASTER_KEYS is required when DCP_ENV is not 'dev'")
        if not self.is_dev and self.audit_commitment_key is None and self.audit_commitment_key_file is None:
            raise ValueError(
                "AUDIT_COMMITMENT_KEY or AUDIT_COMMITMENT_KEY_FILE is required when DCP_ENV is not 'dev'"
            )
        if self.console_oidc_issuer and not (self.console_oidc_client_id and self.console_oidc_redirect_url):
            raise ValueError("CONSOLE_OIDC_ISSUER needs CONSOLE_OIDC_CLIENT_ID and CONSOLE_OIDC_REDIRECT_URL")
        return self

    @property
    def ingest_grace_seconds(self) -> float:
        if self.audit_ingest_grace_seconds is not None:
            return self.audit_ingest_grace_seconds
        return max(2 * self.audit_checkpoint_interval_seconds, 30.0)

    @property
    def trail_pii_roles(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.audit_pii_roles.split(",") if r.strip())

    @property
    def extra_topics(self) -> list[str]:
        return [t.strip() for t in self.audit_extra_topics.split(",") if t.strip()]

    @property
    def trail_dsn(self) -> str:
        """The service database, logged in as the trail role."""
        url = make_url(self.database_dsn)
        if self.audit_db_role:
            password = self.audit_db_role_password.get_secret_value() if self.audit_db_role_password else None
            url = url.set(username=self.audit_db_role, password=password)
        return url.render_as_string(hide_password=False)
