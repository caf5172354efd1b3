#!/usr/bin/env python3
"""Renders a Helm chart with the real Helm library (PyPI package helm-sdkpy).

    python3 tests/chart/render.py CHART_DIR RELEASE NAMESPACE [VALUES_JSON]

helm-sdkpy has no `helm template` and no dry run, so this runs a real
`Install` (values merged, values.schema.json enforced, templates rendered,
CRDs from crds/ installed first, exactly as `helm install` does) against a
stub Kubernetes API server on 127.0.0.1 that serves discovery for the kinds
the chart uses and accepts every write. Nothing leaves the machine.

VALUES_JSON holds the user values (like `helm install -f`), as JSON.

With STUB_WITHOUT_GROUPS=GROUP[,GROUP...] in the environment the stub serves
no discovery for those API groups, as a cluster without their CRDs (e.g.
monitoring.coreos.com without the Prometheus Operator).

Prints one JSON object:
  {"manifest": "...", "notes": "...", "crds": [CRD objects Helm created]}
Exit status: 0 rendered, 1 Helm refused the chart or the values (its message
on stderr), 2 helm-sdkpy is missing or failed to run, or bad usage.
"""

import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SETUP_HINT = "run ./scripts/setup.sh (it installs helm-sdkpy: pip install --ignore-requires-python helm-sdkpy)"

# (group, version, kind, plural, namespaced): every kind the chart renders,
# plus Secrets (Helm's release storage) and Namespaces.
RESOURCES = [
    ("", "v1", "Namespace", "namespaces", False),
    ("", "v1", "Secret", "secrets", True),
    ("", "v1", "ConfigMap", "configmaps", True),
    ("", "v1", "Service", "services", True),
    ("", "v1", "ServiceAccount", "serviceaccounts", True),
    ("apps", "v1", "Deployment", "deployments", True),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", False),
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", False),
    ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", True),
    ("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", True),
    ("xagent.io", "v1alpha1", "XAgent", "xagents", True),
]
WITHOUT = set(filter(None, os.environ.get("STUB_WITHOUT_GROUPS", "").split(",")))
RESOURCES = [r for r in RESOURCES if r[0] not in WITHOUT]
PLURALS = {r[3] for r in RESOURCES}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
AGGREGATED = "g=apidiscovery.k8s.io;v=v2"


class StubApiServer(BaseHTTPRequestHandler):
    """Discovery for RESOURCES; 404 for every single object; writes echoed back."""

    crds = []  # JSON bodies POSTed to customresourcedefinitions

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0].rstrip("/")
        parts = path.strip("/").split("/")
        if path == "/version":
            return self.reply(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0",
                                    "goVersion": "go1.24", "platform": "linux/amd64"})
        if path in ("/api", "/apis") and AGGREGATED in (self.headers.get("Accept") or ""):
            return self.aggregated_discovery(core=path == "/api")
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": []})
        if path == "/apis":
            groups = {}
            for group, version, *_ in RESOURCES:
                if group:
                    groups.setdefault(group, version)
            return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
                for g, v in groups.items()]})
        group_version = None
        if parts[0] == "api" and len(parts) == 2:
            group_version = ("", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            group_version = (parts[1], parts[2])
        if group_version:
            resources = [{"name": plural, "singularName": kind.lower(), "namespaced": namespaced,
                          "kind": kind, "verbs": VERBS}
                         for group, version, kind, plural, namespaced in RESOURCES
                         if (group, version) == group_version]
            if not resources:
                return self.not_found()
            return self.reply(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                    "groupVersion": "/".join(x for x in group_version if x),
                                    "resources": resources})
        if parts[-1] in PLURALS:  # a list: nothing exists yet
            return self.reply(200, {"kind": "List", "apiVersion": "v1",
                                    "metadata": {"resourceVersion": "1"}, "items": []})
        return self.not_found()

    def aggregated_discovery(self, core):
        """Every group and resource in one answer (apidiscovery.k8s.io/v2), as API servers
        since 1.30 do: saves client-go a request per group, and its rate limiter's wait."""
        groups = {}
        for group, version, kind, plural, namespaced in RESOURCES:
            if (group == "") != core:
                continue
            groups.setdefault((group, version), []).append({
                "resource": plural, "singularResource": kind.lower(), "verbs": VERBS,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "scope": "Namespaced" if namespaced else "Cluster",
            })
        body = json.dumps({
            "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": [{"metadata": {"name": group},
                       "versions": [{"version": version, "resources": resources, "freshness": "Current"}]}
                      for (group, version), resources in groups.items()],
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", f"application/json;{AGGREGATED};as=APIGroupDiscoveryList")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def not_found(self):
        self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                         "reason": "NotFound", "code": 404, "message": f"{self.path} not found"})

    def echo(self, code):
        """Answers a write with the object it was sent (JSON or protobuf alike)."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = self.headers.get("Content-Type") or "application/json"
        if "customresourcedefinitions" in self.path and content_type.startswith("application/json"):
            StubApiServer.crds.append(json.loads(body))
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        self.echo(201)

    def do_PUT(self):  # noqa: N802
        self.echo(200)

    def do_PATCH(self):  # noqa: N802
        self.echo(200)

    def do_DELETE(self):  # noqa: N802
        self.reply(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


def install(chart, release, namespace, values, tmp):
    """`helm install` against a fresh stub API server; returns helm-sdkpy's release dict."""
    # Helm's caches and config, and client-go's discovery cache, go to the scratch dir.
    os.environ.update(HOME=tmp, HELM_CACHE_HOME=f"{tmp}/cache", HELM_CONFIG_HOME=f"{tmp}/config",
                      HELM_DATA_HOME=f"{tmp}/data")
    os.environ.pop("KUBECONFIG", None)
    from helm_sdkpy import Configuration, Install

    server = ThreadingHTTPServer(("127.0.0.1", 0), StubApiServer)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    kubeconfig = f"{tmp}/kubeconfig"
    with open(kubeconfig, "w", encoding="utf-8") as f:
        json.dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "stub",
            "clusters": [{"name": "stub", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
            "users": [{"name": "stub", "user": {}}],
            "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub", "namespace": namespace}}],
        }, f)
    try:
        config = Configuration(namespace=namespace, kubeconfig=kubeconfig)
        return asyncio.run(Install(config).run(release, chart, values=values, wait=False, timeout=60))
    finally:
        server.shutdown()


def main() -> int:
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    chart, release, namespace = sys.argv[1:4]
    values = None
    if len(sys.argv) == 5:
        with open(sys.argv[4], encoding="utf-8") as f:
            values = json.load(f)

    # Never hang a test run.
    signal.alarm(120)

    try:
        from helm_sdkpy.exceptions import InstallError
    except ImportError as e:
        print(f"helm_sdkpy is not installed ({e}): {SETUP_HINT}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="xagent-chart-render-") as tmp:
        try:
            result = install(chart, release, namespace, values, tmp)
        except InstallError as e:  # Helm refused the chart or the values: its own message
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            return 1
        except Exception as e:  # the library could not load or run
            print(f"helm-sdkpy failed: {type(e).__name__}: {e}", file=sys.stderr)
            return 2

    info = result.get("info") or {}
    print(json.dumps({
        "manifest": result.get("manifest") or "",
        "notes": info.get("notes") or result.get("notes") or "",
        "crds": StubApiServer.crds,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
