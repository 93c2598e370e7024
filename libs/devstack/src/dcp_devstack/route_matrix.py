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
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)
"""Routes that need no token: probes, metrics (cluster-internal, NetworkPolicy), the API document."""


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


def table() -> str:
    from dcp_platform.auth import Role

    roles = [r.value for r in Role]
    lines = [
        "| service | route | " + " | ".join(roles) + " |",
        "| --- | --- | " + " | ".join("---" for _ in roles) + " |",
    ]
    for service, method, path, allowed in routes():
        if allowed is None:
            cells = ["no token"] + [""] * (len(roles) - 1)
        else:
            cells = ["yes" if r in allowed else "" for r in roles]
        lines.append(f"| {service} | `{method} {path}` | " + " | ".join(cells) + " |")
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
