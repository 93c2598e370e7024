"""Schemathesis against each service's OpenAPI document, with valid tokens.

Positive and negative inputs, a bounded number of examples per operation so the suite stays fast, and a
seed that changes per run:
no response is a 5xx, and every 4xx is RFC 9457 problem+json (see fuzz_checks.py).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from .platform_under_test import Platform, token

pytestmark = pytest.mark.integration

# `make test` runs 20 examples per operation with a fresh seed each run (printed, so a failure can be
# replayed: FUZZ_SEED=<seed>); `make fuzz` runs 100 (FUZZ_EXAMPLES).
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().randrange(1, 2**31))
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


@pytest.mark.parametrize("service", ["case", "contact", "payment", "audit"])
def test_no_server_errors_and_problem_json_for_every_client_error(
    service: str, platform: Platform, tmp_path: Path
) -> None:
    command = [
        SCHEMATHESIS,
        "--no-color",
        "run",
        f"{platform.url(service)}/openapi.json",
        "--header",
        f"Authorization: Bearer {token('admin', 'fuzz-admin')}",
        "--checks",
        "not_a_server_error,problem_json_for_client_errors",
        "--mode",
        "all",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        # stateful: call sequences over the links schemathesis infers (path parameters, Location headers)
        "--phases",
        "examples,coverage,fuzzing,stateful",
        # The manual clock only moves forward: fuzzing it would jump the platform's time around.
        "--exclude-path",
        "/admin/clock",
        "--request-timeout",
        "30",
        # One worker: hypothesis parses lambda sources with `ast`, which is not thread-safe on CPython 3.11.
        "--workers",
        "1",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_checks", "PYTHONPATH": str(Path(__file__).parent)}
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, cwd=tmp_path, timeout=900
    )
    print(f"schemathesis on {service}-service: seed {SEED}, {EXAMPLES_PER_OPERATION} examples per operation")
    replay = f"replay with FUZZ_SEED={SEED} FUZZ_EXAMPLES={EXAMPLES_PER_OPERATION}\n"
    assert result.returncode == 0, replay + result.stdout[-15000:] + result.stderr[-3000:]
