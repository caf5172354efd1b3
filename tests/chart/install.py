#!/usr/bin/env python3
"""Installs and uninstalls a Helm chart in a real cluster with the real Helm
library (PyPI package helm-sdkpy).

    python3 tests/chart/install.py install KUBECONFIG CHART_DIR RELEASE NAMESPACE [VALUES_JSON]
    python3 tests/chart/install.py uninstall KUBECONFIG RELEASE NAMESPACE

`install` is `helm install --create-namespace` of CHART_DIR as RELEASE in
NAMESPACE, with client-side apply and without waiting for readiness: values
merged and checked against values.schema.json, CRDs from crds/ created first
(one that already exists is left as it is, as Helm always does), then every
template sent to the API server of KUBECONFIG, the release recorded in a
Secret of NAMESPACE. VALUES_JSON holds the user values (like `helm install
-f`), as JSON.

`uninstall` is `helm uninstall RELEASE` in NAMESPACE, waiting until every
object of the release is gone from the server.

Helm's caches and configuration go to a temporary directory; $KUBECONFIG and
~/.kube are not read.

Prints one JSON object:
  install:   {"name", "namespace", "revision", "status", "manifest", "notes"}
  uninstall: {"name", "namespace", "status", "description"}
Exit status: 0 done, 1 Helm or the API server refused (Helm's message on
stderr), 2 helm-sdkpy is missing or failed to run, or bad usage.
"""

import asyncio
import json
import os
import signal
import sys
import tempfile

SETUP_HINT = "run ./scripts/setup.sh (it installs helm-sdkpy: pip install --ignore-requires-python helm-sdkpy)"

# Seconds Helm may take for one action (the uninstall's wait included).
HELM_TIMEOUT = 90


def isolate_helm(tmp):
    """Points Helm's caches and config, and client-go's discovery cache, at `tmp`."""
    os.environ.update(HOME=tmp, HELM_CACHE_HOME=f"{tmp}/cache", HELM_CONFIG_HOME=f"{tmp}/config",
                      HELM_DATA_HOME=f"{tmp}/data")
    os.environ.pop("KUBECONFIG", None)


def install(kubeconfig, chart, release, namespace, values):
    """`helm install --create-namespace`; returns what to print."""
    from helm_sdkpy import Configuration, Install

    config = Configuration(namespace=namespace, kubeconfig=kubeconfig)
    result = asyncio.run(Install(config).run(release, chart, values=values, create_namespace=True,
                                             wait=False, timeout=HELM_TIMEOUT))
    info = result.get("info") or {}
    return {
        "name": result.get("name") or release,
        "namespace": result.get("namespace") or namespace,
        "revision": result.get("version"),
        "status": info.get("status") or "",
        "manifest": result.get("manifest") or "",
        "notes": info.get("notes") or "",
    }


def uninstall(kubeconfig, release, namespace):
    """`helm uninstall --wait`; returns what to print."""
    from helm_sdkpy import Configuration, Uninstall

    config = Configuration(namespace=namespace, kubeconfig=kubeconfig)
    result = asyncio.run(Uninstall(config).run(release, wait=True, timeout=HELM_TIMEOUT)) or {}
    uninstalled = result.get("release") or {}
    info = uninstalled.get("info") or {}
    return {
        "name": uninstalled.get("name") or release,
        "namespace": uninstalled.get("namespace") or namespace,
        "status": info.get("status") or "",
        "description": info.get("description") or "",
    }


def main() -> int:
    args = sys.argv[1:]
    if not ((args[:1] == ["install"] and len(args) in (5, 6))
            or (args[:1] == ["uninstall"] and len(args) == 4)):
        print(__doc__, file=sys.stderr)
        return 2
    command, kubeconfig = args[0], os.path.abspath(args[1])
    if not os.path.isfile(kubeconfig):
        print(f"no kubeconfig at {kubeconfig}", file=sys.stderr)
        return 2
    values = None
    if command == "install" and len(args) == 6:
        with open(args[5], encoding="utf-8") as f:
            values = json.load(f)

    # Never hang a test run: Helm's own timeout, plus time to start and report.
    signal.alarm(HELM_TIMEOUT + 30)

    try:
        from helm_sdkpy.exceptions import HelmLibraryNotFound, InstallError, ReleaseError, UninstallError
    except ImportError as e:
        print(f"helm_sdkpy is not installed ({e}): {SETUP_HINT}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="xagent-chart-install-") as tmp:
        isolate_helm(tmp)
        try:
            if command == "install":
                result = install(kubeconfig, os.path.abspath(args[2]), args[3], args[4], values)
            else:
                result = uninstall(kubeconfig, args[2], args[3])
        # Helm or the API server refused (a release not found included): their message.
        except (InstallError, UninstallError, ReleaseError) as e:
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            return 1
        except HelmLibraryNotFound as e:
            print(f"helm-sdkpy cannot load its library ({e}): {SETUP_HINT}", file=sys.stderr)
            return 2
        except Exception as e:  # the library could not load or run
            print(f"helm-sdkpy failed: {type(e).__name__}: {e}", file=sys.stderr)
            return 2

    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
