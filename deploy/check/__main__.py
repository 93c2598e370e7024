"""`python -m deploy.check` (make deploy-check): run every check, print the notes, exit 1 on a problem."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from deploy.check import run_checks


def main(argv: Sequence[str] | None = None) -> int:
    report = run_checks()
    for note in report.notes:
        print(f"  {note}")
    if report.problems:
        print(f"deploy-check: {len(report.problems)} problem(s)", file=sys.stderr)
        for problem in report.problems:
            print(f"  FAIL {problem}", file=sys.stderr)
        return 1
    print("deploy-check: all overlays, the Dockerfile, constraints.txt and docker-compose.yml pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
