"""`dcp-token`: mint a development HS256 bearer token (`make token ROLE=auditor`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import jwt
import typer

from dcp_platform.auth import Role
from dcp_platform.clock import Clock, SystemClock
from dcp_platform.settings import ServiceSettings


def issue_token(
    *,
    secret: str,
    role: Role,
    subject: str,
    issuer: str,
    audience: str,
    ttl_seconds: int = 3600,
    name: str | None = None,
    agency_id: str | None = None,
    team: str | None = None,
    creditors: list[str] | None = None,
    clock: Clock | None = None,
) -> str:
    """An HS256 token with the claims `dcp_platform.auth` reads."""
    issued_at: datetime = (clock or SystemClock()).now()
    claims: dict[str, object] = {
        "sub": subject,
        "role": role.value,
        "iss": issuer,
        "aud": audience,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + timedelta(seconds=ttl_seconds),
    }
    for key, value in (("name", name), ("agency_id", agency_id), ("team", team), ("creditors", creditors)):
        if value is not None:
            claims[key] = value
    return jwt.encode(claims, secret, algorithm="HS256")


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="The role claim.")],
    subject: Annotated[str | None, typer.Option(help="The sub claim (default: dev-<role>).")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    agency_id: Annotated[str | None, typer.Option("--agency-id", help="External agency id.")] = None,
    team: Annotated[str | None, typer.Option(help="Team.")] = None,
    creditor: Annotated[
        list[str] | None,
        typer.Option("--creditor", help="A creditor the caller acts for (repeat; none: all creditors)."),
    ] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.", min=1)] = 3600,
) -> None:
    """Print a token signed with AUTH_JWT_HS256_SECRET (the documented dev default when DCP_ENV=dev)."""
    try:
        settings = ServiceSettings()
    except ValueError as exc:
        typer.echo(f"dcp-token: {exc}", err=True)
        raise typer.Exit(2) from exc
    secret = settings.hs256_secret
    if secret is None:
        typer.echo("dcp-token: AUTH_JWT_HS256_SECRET is not set (required outside DCP_ENV=dev)", err=True)
        raise typer.Exit(2)
    typer.echo(
        issue_token(
            secret=secret.get_secret_value(),
            role=role,
            subject=subject or f"dev-{role.value}",
            issuer=settings.auth_jwt_issuer,
            audience=settings.auth_jwt_audience,
            ttl_seconds=ttl,
            name=name,
            agency_id=agency_id,
            team=team,
            creditors=creditor or None,
        )
    )


if __name__ == "__main__":
    app()
