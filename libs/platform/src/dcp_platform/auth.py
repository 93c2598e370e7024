"""Bearer JWT authentication and role checks.

HS256 with a shared key from the environment (development) and RS256 with keys from a JWKS URL.
Routes take `CurrentPrincipal` or depend on `require_roles(Role.SUPERVISOR, ...)`; a route about
one case then narrows the role with `require_case_access(principal, CaseAssignment(...))`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool

from dcp_platform.context import bind_actor
from dcp_platform.problems import Forbidden, Unauthorized
from dcp_platform.settings import ServiceSettings

BEARER_SCHEME_NAME = "bearerAuth"
_LEEWAY_SECONDS = 30


class Role(StrEnum):
    COLLECTOR = "collector"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    INTEGRATION = "integration"
    """A creditor's or bank's system: places accounts, posts and reverses payments, reads what it sent."""
    DIALER = "dialer"
    """A machine channel of an agency (its dialer, SMS or letter gateway): asks the gate and records the
    contacts it makes, on the cases assigned to its agency (`agency_id` claim) only."""


class Principal(BaseModel):
    """The authenticated caller, from the token's claims."""

    model_config = ConfigDict(frozen=True)

    subject: str
    role: Role
    name: str | None = None
    agency_id: str | None = None
    team: str | None = None
    creditors: frozenset[str] | None = None
    """The creditors (tenants) the caller acts for, from the token's `creditors` claim: it sees and
    changes only their cases. None: every creditor (a platform-wide role)."""


class TokenVerifier:
    """Checks a bearer token's signature, expiry, issuer and audience, and reads the principal."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        hs256_secret: str | None = None,
        jwks_url: str | None = None,
        jwks_timeout_seconds: float = 5.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._hs256_secret = hs256_secret
        self._jwks = (
            jwt.PyJWKClient(
                jwks_url, cache_keys=True, lifespan=300, timeout=int(max(1, jwks_timeout_seconds))
            )
            if jwks_url
            else None
        )

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        secret = settings.hs256_secret
        return cls(
            issuer=settings.auth_jwt_issuer,
            audience=settings.auth_jwt_audience,
            hs256_secret=secret.get_secret_value() if secret is not None else None,
            jwks_url=settings.auth_jwt_jwks_url,
        )

    @property
    def needs_network(self) -> bool:
        return self._jwks is not None

    def _jwks_key(self, kid: object) -> Any:
        """The provider's key the token names (`kid`); a token naming none is taken only when the
        JWKS holds a single signing key (unambiguous, RFC 7517 makes `kid` optional)."""
        assert self._jwks is not None
        if isinstance(kid, str) and kid:
            return self._jwks.get_signing_key(kid).key
        keys = self._jwks.get_signing_keys()
        if len(keys) != 1:
            raise jwt.PyJWKClientError("the token names no key (kid) and the JWKS holds several")
        return keys[0].key

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("The bearer token is malformed.", error="invalid_token") from exc
        algorithm = header.get("alg")
        key: Any
        if algorithm == "HS256" and self._hs256_secret is not None:
            key = self._hs256_secret
        elif algorithm == "RS256" and self._jwks is not None:
            try:
                key = self._jwks_key(header.get("kid"))
            except jwt.PyJWTError as exc:
                raise Unauthorized("No signing key for the bearer token.", error="invalid_token") from exc
        else:
            raise Unauthorized("The token's signing algorithm is not accepted.", error="invalid_token")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The bearer token has expired.", error="invalid_token") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The bearer token is not valid.", error="invalid_token") from exc
        try:
            return Principal(
                subject=claims["sub"],
                role=claims.get("role"),
                name=claims.get("name"),
                agency_id=claims.get("agency_id"),
                team=claims.get("team"),
                creditors=_creditors(claims.get("creditors")),
            )
        except (ValidationError, ValueError) as exc:
            raise Unauthorized("The bearer token carries no valid role.", error="invalid_token") from exc


def _creditors(claim: object) -> frozenset[str] | None:
    """The `creditors` claim: a list of creditor ids (absent: every creditor)."""
    if claim is None:
        return None
    if not isinstance(claim, list) or not all(isinstance(c, str) and c for c in claim):
        raise ValueError("the creditors claim is a list of creditor ids")
    return frozenset(claim)


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=BEARER_SCHEME_NAME,
    bearerFormat="JWT",
    description=(
        "JWT: HS256 (development key) or RS256 (JWKS). Claims: sub, role, name, agency_id, team, "
        "creditors (the creditors the caller acts for; absent: all)."
    ),
)


def get_token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


async def get_current_principal(
    verifier: Annotated[TokenVerifier, Depends(get_token_verifier)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("A bearer token is required.")
    if verifier.needs_network:
        principal = await run_in_threadpool(verifier.verify, credentials.credentials)
    else:
        principal = verifier.verify(credentials.credentials)
    bind_actor(principal.subject, principal.role.value)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only the given roles through (403 problem+json otherwise).

    `@router.post(..., dependencies=[Depends(require_roles(Role.SUPERVISOR))])` or
    `Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]`.
    """
    allowed = frozenset(roles)

    async def check_role(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(
                f"Role '{principal.role.value}' may not do this.",
                allowed_roles=sorted(role.value for role in allowed),
            )
        return principal

    check_role.allowed_roles = allowed  # type: ignore[attr-defined]  # read by `roles_of`
    return check_role


def roles_of(dependant: Any) -> frozenset[Role] | None:
    """The roles a route lets through, from its dependencies (`require_roles` anywhere among them,
    intersected when there are several); all roles when it only needs a signed-in caller; None when it
    needs no token at all (health, metrics, the API document)."""
    allowed: frozenset[Role] | None = None
    signed_in = False
    stack = [dependant]
    while stack:
        node = stack.pop()
        roles = getattr(node.call, "allowed_roles", None)
        if roles is not None:
            allowed = roles if allowed is None else allowed & roles
        if node.call is get_current_principal:
            signed_in = True
        stack.extend(node.dependencies)
    if allowed is not None:
        return allowed
    return frozenset(Role) if signed_in else None


# --- Per-case access: "Collectors see the cases assigned to them" (ARCHITECTURE.md section 6) ---


class CaseAccess(StrEnum):
    """What the caller wants to do with one case."""

    READ = "read"
    ACT = "act"


@dataclass(frozen=True)
class CaseAssignment:
    """Who a case is assigned to, as a service's read model keeps it from `CaseAssigned`
    (`kind`: "collector", "team" or "agency", the `AssigneeKind` of the event; None: not assigned)."""

    case_id: str
    kind: str | None = None
    assignee_id: str | None = None
    creditor_id: str | None = None  # whose case it is (None: not known here yet)


def is_case_scoped(principal: Principal) -> bool:
    """Whether the caller works only some cases (a collector, an agency's dialer), so a list across all
    cases is not theirs."""
    return principal.role in (Role.COLLECTOR, Role.DIALER)


def collector_assignees(principal: Principal) -> frozenset[tuple[str, str]]:
    """The (kind, id) assignments whose cases a collector works: their own subject, their `team`
    claim and their `agency_id` claim (a dialer: its agency's only). Lists filter on these;
    `may_act_on_case` checks one of them."""
    if principal.role is Role.DIALER:
        return frozenset({("agency", principal.agency_id)} if principal.agency_id else set())
    assignees = {("collector", principal.subject)}
    if principal.team:
        assignees.add(("team", principal.team))
    if principal.agency_id:
        assignees.add(("agency", principal.agency_id))
    return frozenset(assignees)


def may_act_on_case(
    principal: Principal, assignment: CaseAssignment | None, access: CaseAccess = CaseAccess.ACT
) -> bool:
    """The one rule of case-level access, shared by every service.

    Roles are checked first by `require_roles`; this rule only narrows them per case:
    - collectors are scoped: they pass when the case is assigned to them (`kind` collector and
      `assignee_id` their subject), to their team (`kind` team and their `team` claim) or to their
      agency (`kind` agency and their `agency_id` claim). An unassigned or unknown case (None)
      is nobody's, so a collector never passes on it; a dialer passes on its agency's cases only;
    - auditors read every case and act on none (auditors never write);
    - supervisors, admins and the integration role are not case-scoped;
    - and first of all, a caller whose token names the creditors it acts for passes only on their
      cases (creditor isolation: a case whose creditor is not known yet is nobody's for it).
    """
    if principal.creditors is not None and (
        assignment is None or assignment.creditor_id not in principal.creditors
    ):
        return False  # another creditor's case, or one whose creditor is not known yet
    if principal.role is Role.AUDITOR:
        return access is CaseAccess.READ
    if not is_case_scoped(principal):
        return True
    if assignment is None or assignment.kind is None or assignment.assignee_id is None:
        return False
    return (str(assignment.kind), assignment.assignee_id) in collector_assignees(principal)


def creditor_scope(principal: Principal) -> frozenset[str] | None:
    """The creditors whose cases a list may show `principal` (None: every creditor's)."""
    return principal.creditors


def may_act_for_creditor(principal: Principal, creditor_id: str) -> bool:
    """Whether `principal` may place or change a case of `creditor_id`."""
    return principal.creditors is None or creditor_id in principal.creditors


def require_case_access(
    principal: Principal, assignment: CaseAssignment | None, access: CaseAccess = CaseAccess.ACT
) -> None:
    """`may_act_on_case`, or a 403 problem+json (`Forbidden`) naming the case."""
    if may_act_on_case(principal, assignment, access):
        return
    case = f"case {assignment.case_id}" if assignment is not None else "this case"
    if is_case_scoped(principal):
        detail = f"{case} is not assigned to you, your team or your agency."
    else:
        detail = f"Role '{principal.role.value}' may not {access.value} on {case}."
    if assignment is None:
        raise Forbidden(detail)
    raise Forbidden(detail, case_id=assignment.case_id)
