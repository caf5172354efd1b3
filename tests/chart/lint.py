#!/usr/bin/env python3
"""Lints a Helm chart with the real Helm library (PyPI package helm-sdkpy).

    python3 tests/chart/lint.py CHART_DIR [VALUES_JSON]

Without VALUES_JSON the chart is linted as it is. With it, a temporary copy of
the chart whose values.yaml is replaced by VALUES_JSON (the complete values,
as JSON, which is YAML too) is linted: helm-sdkpy's Lint takes no values of
its own, so this is how other values are checked against values.schema.json
and rendered through the templates.

Prints one JSON object: {"errors": N, "messages": [{"severity": S, "path": P}]}
(severity 1 info, 2 warning, 3 error; helm-sdkpy does not pass the message
text on). Exit status: 0 lint passed, 1 lint found errors, 2 helm-sdkpy is
missing or the call failed.
"""

import asyncio
import json
import shutil
import sys
import tempfile

SETUP_HINT = "run ./scripts/setup.sh (it installs helm-sdkpy: pip install --ignore-requires-python helm-sdkpy)"
ERROR = 3


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        from helm_sdkpy import Configuration, Lint
    except ImportError as e:
        print(f"helm_sdkpy is not installed ({e}): {SETUP_HINT}", file=sys.stderr)
        return 2

    chart = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xagent-chart-lint-") as tmp:
        if len(sys.argv) == 3:
            with open(sys.argv[2], encoding="utf-8") as f:
                values = json.load(f)
            copy = f"{tmp}/chart"
            shutil.copytree(chart, copy)
            with open(f"{copy}/values.yaml", "w", encoding="utf-8") as f:
                json.dump(values, f, indent=2)
            chart = copy
        try:
            result = asyncio.run(Lint(Configuration()).run(chart))
        except Exception as e:  # helm_sdkpy.exceptions.ChartError and friends
            print(f"helm lint could not run: {type(e).__name__}: {e}", file=sys.stderr)
            return 2

    messages = [{"severity": m.get("Severity"), "path": m.get("Path")} for m in result.get("Messages") or []]
    errors = len(result.get("Errors") or [])
    print(json.dumps({"errors": errors, "messages": messages}))
    failed = errors > 0 or any(m["severity"] == ERROR for m in messages)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
