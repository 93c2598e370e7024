"""Who may call what: the role x route matrix of the four services, generated from their routes'
dependencies (`dcp_platform.auth.roles_of`), so the README's table cannot drift from the code.

`python -m dcp_devstack.route_matrix --write README.md` rewrites the table between its markers;
`--check README.md` exits 1 when it is stale (tests/test_route_matrix.py runs the same check)."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

START = "<!-- route-matrix:start -->"
END = "<!-- route-matrix:end -->"

SERVICES = (
    ("case-service", "case_service"),
    ("contact-service", "contact_service"),
    ("payment-service", "payment_service"),
    ("audit-service", "audit_service"),
)

PUBLIC = frozenset(
    {
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/channels/sms/receipts",
        "/channels/sms/inbound",
        "/channels/opt-out/{token}",
        "/console",
        "/console/login",
        "/console/logout",
        "/console/callback",
        "/console/signed-out",
    }
)
"""Routes that need no token: probes, metrics (cluster-internal, NetworkPolicy), the API document, and
what a channel calls back with a signature of its own (the SMS gateway's webhooks, signed with its key;
the opt-out link in an e-mail, signed by the contact service), and the console's sign-in pages."""


def routes() -> list[tuple[str, str, str, frozenset[str] | None]]:
    """(service, method, path, roles: None for a route that needs no token), in service and path order."""
    from fastapi import routing

    from dcp_platform.auth import roles_of

    found: list[tuple[str, str, str, frozenset[str] | None]] = []
    for service, module in SERVICES:
        app = importlib.import_module(f"{module}.main").create_app()
        # the routes as the app serves them, with the dependencies of the routers they are included by
        for route in routing.iter_route_contexts(app.routes):
            if not isinstance(route.original_route, routing.APIRoute):
                continue
            roles = roles_of(route.dependant)
            names = None if roles is None else frozenset(r.value for r in roles)
            for method in sorted(set(route.methods or ()) - {"HEAD", "OPTIONS"}):
                found.append((service, method, str(route.path), names))
    return sorted(found, key=lambda r: (r[0], r[2], r[1]))


# What a token scoped to some creditors (its `creditors` claim) gets on each route: every route must
# have an entry (tests/test_route_matrix.py), so a new route is classified when it is added.
ONE_CASE = "its creditors' cases only"
LISTED = "filtered to its creditors"
BY_CASE = "by one of its cases only"
PLATFORM = "refused (platform-wide)"
NOT_SCOPED = "not creditor data"
CREDITOR_SCOPE: dict[tuple[str, str], str] = {
    ("audit-service", "/audit/cases/{case_id}/trail"): ONE_CASE,
    ("audit-service", "/audit/checkpoints"): PLATFORM,
    ("audit-service", "/audit/checkpoints/consistency"): PLATFORM,
    ("audit-service", "/audit/entries"): LISTED,
    ("audit-service", "/audit/entries/{entry_id}"): ONE_CASE,
    ("audit-service", "/audit/entries/{entry_id}/proof"): ONE_CASE,
    ("audit-service", "/audit/export"): LISTED,
    ("audit-service", "/audit/findings"): BY_CASE,
    ("audit-service", "/audit/public-key"): NOT_SCOPED,
    ("audit-service", "/audit/reconciliation"): PLATFORM,
    ("audit-service", "/audit/verify"): PLATFORM,
    ("case-service", "/cases"): LISTED,
    ("case-service", "/cases/{case_id}"): ONE_CASE,
    ("case-service", "/cases/{case_id}/assignment"): ONE_CASE,
    ("case-service", "/cases/{case_id}/charges"): ONE_CASE,
    ("case-service", "/cases/{case_id}/close"): ONE_CASE,
    ("case-service", "/cases/{case_id}/events"): ONE_CASE,
    ("case-service", "/cases/{case_id}/holds"): ONE_CASE,
    ("case-service", "/cases/{case_id}/holds/{hold_id}"): ONE_CASE,
    ("case-service", "/cases/{case_id}/stage"): ONE_CASE,
    ("case-service", "/debtors/{debtor_id}/erasure"): PLATFORM,
    ("case-service", "/imports"): "its creditors' rows only (the others rejected)",
    ("case-service", "/imports/{import_id}"): NOT_SCOPED,
    ("case-service", "/kpis/collectors"): LISTED,
    ("case-service", "/kpis/portfolio"): LISTED,
    ("case-service", "/kpis/strategies"): LISTED,
    ("case-service", "/kpis/experiments"): LISTED,
    ("case-service", "/policies"): NOT_SCOPED,
    ("case-service", "/policies/{name}"): NOT_SCOPED,
    ("case-service", "/policies/{name}/schema"): NOT_SCOPED,
    ("case-service", "/policies/{name}/versions/{version}"): NOT_SCOPED,
    ("case-service", "/policies/{name}/versions/{version}/approval"): NOT_SCOPED,
    ("case-service", "/policies/{name}/versions/{version}/activation"): NOT_SCOPED,
    ("case-service", "/policies/{name}/versions/{version}/simulation"): NOT_SCOPED,
    ("case-service", "/policies/{name}/simulations/{simulation_id}"): NOT_SCOPED,
    ("case-service", "/policies/propensity-model/training"): NOT_SCOPED,
    ("audit-service", "/audit/simulations"): PLATFORM,
    ("audit-service", "/console"): NOT_SCOPED,
    ("audit-service", "/console/login"): NOT_SCOPED,
    ("audit-service", "/console/logout"): NOT_SCOPED,
    ("audit-service", "/console/entries"): LISTED,
    ("audit-service", "/console/cases/{case_id}"): ONE_CASE,
    ("audit-service", "/console/verify"): PLATFORM,
    ("audit-service", "/console/entries/{entry_id}/proof"): ONE_CASE,
    ("audit-service", "/console/export"): LISTED,
    ("audit-service", "/console/findings"): BY_CASE,
    ("audit-service", "/console/callback"): NOT_SCOPED,
    ("audit-service", "/console/signed-out"): NOT_SCOPED,
    ("audit-service", "/console/portfolio"): LISTED,
    ("audit-service", "/console/collectors"): LISTED,
    ("audit-service", "/console/strategies"): LISTED,
    ("audit-service", "/console/refusals"): LISTED,
    ("audit-service", "/audit/refusals"): LISTED,
    ("audit-service", "/audit/simulations/{simulation_id}"): PLATFORM,
    ("case-service", "/kpis/legal"): LISTED,
    ("case-service", "/cases/{case_id}/legal"): ONE_CASE,
    ("case-service", "/cases/{case_id}/legal/referral"): ONE_CASE,
    ("case-service", "/cases/{case_id}/legal/referral/{referral_id}/approval"): ONE_CASE,
    ("case-service", "/cases/{case_id}/legal/steps"): ONE_CASE,
    ("case-service", "/staff"): NOT_SCOPED,
    ("case-service", "/staff/{staff_id}"): NOT_SCOPED,
    ("contact-service", "/cases/{case_id}/contact-options"): ONE_CASE,
    ("contact-service", "/cases/{case_id}/contacts"): ONE_CASE,
    ("contact-service", "/contact-attempts"): ONE_CASE,
    ("contact-service", "/contact-checks"): ONE_CASE,
    ("contact-service", "/debtor-requests"): ONE_CASE,
    ("contact-service", "/promises"): ONE_CASE,
    ("contact-service", "/worklist"): LISTED,
    ("case-service", "/cases/{case_id}/notes"): ONE_CASE,
    ("case-service", "/cases/{case_id}/vulnerabilities"): ONE_CASE,
    ("case-service", "/cases/{case_id}/vulnerabilities/{flag_id}/review"): ONE_CASE,
    ("contact-service", "/contact-permits"): ONE_CASE,
    ("contact-service", "/contact-permits/{permit_id}"): BY_CASE,
    ("contact-service", "/contact-permits/{permit_id}/outcome"): BY_CASE,
    ("contact-service", "/contact-permit-keys"): NOT_SCOPED,
    ("contact-service", "/dialer/permits"): LISTED,
    ("contact-service", "/messages"): ONE_CASE,
    ("contact-service", "/messages/summary"): PLATFORM,
    ("contact-service", "/cases/{case_id}/messages"): ONE_CASE,
    ("contact-service", "/cases/{case_id}/disputes"): ONE_CASE,
    ("contact-service", "/cases/{case_id}/disputes/{dispute_id}/verification"): ONE_CASE,
    ("contact-service", "/letters/print-files"): PLATFORM,
    ("contact-service", "/channels/email/inbound"): PLATFORM,
    ("payment-service", "/cases/{case_id}/financial-statements"): ONE_CASE,
    ("payment-service", "/cases/{case_id}/financial-statements/{statement_id}"): ONE_CASE,
    ("payment-service", "/cases/{case_id}/payments"): ONE_CASE,
    ("payment-service", "/payment-plans"): BY_CASE,
    ("payment-service", "/payment-plans/{plan_id}"): ONE_CASE,
    ("payment-service", "/payments"): BY_CASE,
    ("payment-service", "/payments/{payment_id}"): ONE_CASE,
    ("payment-service", "/payments/{payment_id}/reversal"): ONE_CASE,
    ("payment-service", "/promises"): BY_CASE,
    ("payment-service", "/promises/{promise_id}"): ONE_CASE,
    ("payment-service", "/settlements"): BY_CASE,
    ("payment-service", "/settlements/{settlement_id}"): ONE_CASE,
}


def creditor_scope(service: str, method: str, path: str) -> str | None:
    if path in PUBLIC:
        return "no token"
    if (service, method, path) in CREDITOR_SCOPE_BY_METHOD:
        return CREDITOR_SCOPE_BY_METHOD[(service, method, path)]
    return CREDITOR_SCOPE.get((service, path))


# Where one path's methods differ (a list filtered, a creation by case).
CREDITOR_SCOPE_BY_METHOD: dict[tuple[str, str, str], str] = {
    ("case-service", "POST", "/cases"): "its creditors' accounts only",
    ("payment-service", "POST", "/payments"): ONE_CASE,
    ("payment-service", "POST", "/payment-plans"): ONE_CASE,
    ("payment-service", "POST", "/settlements"): ONE_CASE,
    ("case-service", "PUT", "/staff/{staff_id}"): NOT_SCOPED,
}


def table() -> str:
    from dcp_platform.auth import Role

    roles = [r.value for r in Role]
    lines = [
        "| service | route | " + " | ".join(roles) + " | scoped to creditors |",
        "| --- | --- | " + " | ".join("---" for _ in roles) + " | --- |",
    ]
    for service, method, path, allowed in routes():
        if allowed is None:
            cells = ["no token"] + [""] * (len(roles) - 1)
        else:
            cells = ["yes" if r in allowed else "" for r in roles]
        scope = creditor_scope(service, method, path) or "?"
        lines.append(f"| {service} | `{method} {path}` | " + " | ".join(cells) + f" | {scope} |")
    return "\n".join(lines)


def render(readme: str) -> str:
    """The README with the table between the markers replaced by the current one."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args(argv)
    path: Path = args.write or args.check
    text = path.read_text()
    if START not in text or END not in text:
        print(f"{path}: no {START} ... {END} markers", file=sys.stderr)
        return 2
    fresh = render(text)
    if args.write:
        path.write_text(fresh)
        return 0
    if fresh != text:
        print(f"{path}: the route matrix is stale: python -m dcp_devstack.route_matrix --write {path}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
