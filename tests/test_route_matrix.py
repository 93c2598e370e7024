"""The README's role x route table is the code's: regenerated from the routes' dependencies, it must
match, and every route that needs a token lets some role through (a new route without a role check
fails here until it is given one or is deliberately public)."""

from __future__ import annotations

from pathlib import Path

from dcp_devstack import route_matrix

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_route_names_who_may_call_it() -> None:
    rows = route_matrix.routes()
    assert len({service for service, *_ in rows}) == 4
    public = {(service, path) for service, _, path, roles in rows if roles is None}
    assert {path for _, path in public} <= route_matrix.PUBLIC, sorted(public)
    for service, method, path, roles in rows:
        assert roles is None or roles, f"{service} {method} {path} lets no role through"
        assert route_matrix.creditor_scope(service, method, path), (
            f"{service} {method} {path}: say what a creditor-scoped token gets (route_matrix.CREDITOR_SCOPE)"
        )


def test_the_readme_table_is_current() -> None:
    text = README.read_text()
    assert route_matrix.render(text) == text, (
        "README.md's route matrix is stale: python -m dcp_devstack.route_matrix --write README.md"
    )


def test_the_integration_role_does_nothing_a_collector_does() -> None:
    """It places accounts, posts and reverses payments and reads payments: no contact, promise,
    arrangement, hold, or case change, and no reading of cases or what was agreed with a debtor."""
    allowed = {
        (service, method, path)
        for service, method, path, roles in route_matrix.routes()
        if roles is not None and "integration" in roles
    }
    assert allowed == {
        ("case-service", "POST", "/cases"),
        ("case-service", "POST", "/cases/{case_id}/charges"),
        ("case-service", "POST", "/imports"),
        ("case-service", "GET", "/imports/{import_id}"),
        ("payment-service", "GET", "/cases/{case_id}/payments"),
        ("payment-service", "GET", "/payments"),
        ("payment-service", "POST", "/payments"),
        ("payment-service", "GET", "/payments/{payment_id}"),
        ("payment-service", "POST", "/payments/{payment_id}/reversal"),
    }
