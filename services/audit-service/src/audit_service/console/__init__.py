"""The auditors' web console, served by the audit-service: server-rendered pages (Jinja2) over the
audit API itself, so a page shows exactly what the API shows the same caller (roles, creditor scope,
personal data masked per role). Signing in keeps the caller's bearer token in a cookie; in `dev` a
development login mints one for a chosen role."""
