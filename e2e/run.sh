#!/usr/bin/env bash
# End-to-end suite against the cluster in KUBECONFIG (kind, k3d, or any other).
#
#   e2e/run.sh [--prometheus-crds DIR] [--in-cluster] [--keep]
#
# It installs the XAgent CRD (and, with --prometheus-crds, the Prometheus
# Operator CRDs from DIR), starts the operator from the built binary out of
# cluster (or, with --in-cluster, uses a deployment that is already running),
# and then, in a fresh namespace:
#   1. applies the samples and waits for every child;
#   2. checks status (observedGeneration, conditions);
#   3. edits a child and deletes another, and sees both repaired;
#   4. checks that 30 s of steady state write nothing;
#   5. applies invalid XAgents and sees the API server reject them;
#   6. deletes the XAgent and sees the children garbage-collected.
# Steps that need running pods are skipped, with a message, on a cluster
# without schedulable nodes. It cleans up after itself and exits non-zero on
# the first failure.
#
# Environment: XAGENT_OPERATOR_BIN (default: build target/release/xagent-operator),
# XAGENT_OPERATOR_KUBECONFIG (the kubeconfig of the out-of-cluster operator,
# e.g. its ServiceAccount's; default: KUBECONFIG, the same as kubectl's),
# E2E_TIMEOUT (seconds per wait, default 120), E2E_IMAGE / E2E_EXPECT_READY=1
# to run pods from an image that implements the X-Agent container contract
# (/health, /ready, /metrics) and expect Ready=True.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TIMEOUT="${E2E_TIMEOUT:-120}"
PROM_CRDS=""
IN_CLUSTER=0
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prometheus-crds) PROM_CRDS="$2"; shift 2 ;;
    --in-cluster) IN_CLUSTER=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

NS="xagent-e2e-$(date +%s)-$RANDOM"
WORK="$(mktemp -d)"
OPERATOR_PID=""
STEP="setup"
PASSED=0
SKIPPED=0

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
pass() { PASSED=$((PASSED + 1)); log "PASS: $*"; }
skip() { SKIPPED=$((SKIPPED + 1)); log "SKIP: $*"; }
fail() {
  log "FAIL in step '$STEP': $*"
  if [ -n "$OPERATOR_PID" ] && [ -f "$WORK/operator.log" ]; then
    log "last operator log lines:"; tail -n 40 "$WORK/operator.log" >&2
  fi
  exit 1
}

# Polls until every named CRD is Established. Not `kubectl wait`: a CRD read
# before the server's first status write has `conditions: null`, which
# `kubectl wait` reports as an error instead of waiting.
wait_established() {
  local crd deadline=$((SECONDS + TIMEOUT))
  for crd in "$@"; do
    until [ "$(kubectl get "$crd" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" = True ]; do
      [ "$SECONDS" -lt "$deadline" ] || return 1
      sleep 0.2
    done
  done
}

cleanup() {
  local rc=$?
  if [ -n "$OPERATOR_PID" ]; then
    kill "$OPERATOR_PID" 2>/dev/null || true
    wait "$OPERATOR_PID" 2>/dev/null || true
  fi
  if [ "$KEEP" -eq 0 ]; then
    kubectl delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  log "$PASSED passed, $((rc != 0)) failed, $SKIPPED skipped"
  exit "$rc"
}
trap cleanup EXIT

# wait_for DESCRIPTION COMMAND...: retries COMMAND until it succeeds or TIMEOUT passes.
wait_for() {
  local what="$1"; shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && fail "timed out after ${TIMEOUT}s waiting for $what"
    sleep 2
  done
}

# Never fails (set -e would exit without a message): an unreadable value is
# empty, and the comparison that uses it fails with a FAIL line.
jsonpath() { kubectl get -n "$NS" "$1" -o "jsonpath=$2" 2>/dev/null || true; }

# --------------------------------------------------------------------- setup
STEP="cluster"
for tool in kubectl curl; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is required"
done
kubectl version >/dev/null 2>&1 || fail "no cluster reachable through KUBECONFIG=${KUBECONFIG:-~/.kube/config}"
# Ready, schedulable nodes without a NoSchedule/NoExecute taint. A control
# plane without kubelets (envtest style) has none; nodes that cannot be
# listed count as none too.
NODES=$(kubectl get nodes -o jsonpath='{range .items[*]}{.spec.unschedulable}{" taints:"}{range .spec.taints[*]}{.effect}{","}{end}{" ready:"}{range .status.conditions[?(@.type=="Ready")]}{.status}{end}{"\n"}{end}' 2>/dev/null) \
  || log "cannot list nodes; assuming none is schedulable"
READY_NODES=$(printf '%s\n' "${NODES:-}" | awk '$1 != "true" && $0 !~ /NoSchedule|NoExecute/ && $NF == "ready:True"' | wc -l | tr -d ' ')
if [ "$READY_NODES" -gt 0 ]; then HAVE_NODES=1; else HAVE_NODES=0; fi
log "cluster reachable; schedulable ready nodes: $READY_NODES; namespace $NS"

STEP="install CRDs"
kubectl apply --server-side --force-conflicts -f "$ROOT/crds/" >/dev/null || fail "could not apply crds/"
wait_established crd/xagents.xagent.io || fail "XAgent CRD not established"
if [ -n "$PROM_CRDS" ]; then
  for f in "$PROM_CRDS"/monitoring.coreos.com_servicemonitors.yaml "$PROM_CRDS"/monitoring.coreos.com_prometheusrules.yaml; do
    kubectl apply --server-side --force-conflicts -f "$f" >/dev/null || fail "could not apply $f"
  done
  wait_established crd/servicemonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com \
    || fail "Prometheus Operator CRDs not established"
fi
pass "CRDs installed"
kubectl create namespace "$NS" >/dev/null || fail "could not create namespace $NS"

STEP="start operator"
if [ "$IN_CLUSTER" -eq 1 ]; then
  running=$(kubectl get pods -A -l app.kubernetes.io/name=xagent-operator \
    -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' 2>/dev/null | grep -c '^Running$' || true)
  [ "$running" -gt 0 ] || fail "--in-cluster: no running pod labelled app.kubernetes.io/name=xagent-operator"
  log "using the operator already running in the cluster ($running pod(s)); it must watch all namespaces"
else
  BIN="${XAGENT_OPERATOR_BIN:-}"
  if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --release --locked --quiet) || fail "cargo build failed"
    BIN="$ROOT/target/release/xagent-operator"
  fi
  # The operator's own credentials, if given (e.g. its ServiceAccount's, to
  # run under only the declared RBAC); else those of KUBECONFIG, like kubectl.
  OPERATOR_ENV=(RUST_LOG=info)
  if [ -n "${XAGENT_OPERATOR_KUBECONFIG:-}" ]; then
    [ -r "$XAGENT_OPERATOR_KUBECONFIG" ] || fail "XAGENT_OPERATOR_KUBECONFIG=$XAGENT_OPERATOR_KUBECONFIG is not readable"
    OPERATOR_ENV+=("KUBECONFIG=$XAGENT_OPERATOR_KUBECONFIG")
    log "the operator runs with KUBECONFIG=$XAGENT_OPERATOR_KUBECONFIG"
  fi
  # Starts the operator on a port nothing listens on, below Linux's ephemeral
  # range (32768 and up): there an outgoing connection's local port can make
  # the bind fail although nothing listens. A failed bind is retried on
  # another port; any other exit fails with the operator's last lines (here,
  # not inside wait_for, which would swallow the message).
  start_operator() {
    local attempt deadline
    for attempt in 1 2 3; do
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        PORT=$(( (RANDOM % 10000) + 20000 ))
        (: <"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
      done
      env "${OPERATOR_ENV[@]}" "$BIN" run --namespace "$NS" --metrics-address "127.0.0.1:$PORT" >"$WORK/operator.log" 2>&1 &
      OPERATOR_PID=$!
      deadline=$((SECONDS + TIMEOUT))
      until curl --noproxy '*' -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
        if ! kill -0 "$OPERATOR_PID" 2>/dev/null; then
          grep -q "binding the metrics address failed" "$WORK/operator.log" || fail "the operator exited"
          log "port $PORT could not be bound (attempt $attempt): $(tail -n 1 "$WORK/operator.log")"
          continue 2
        fi
        [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${TIMEOUT}s waiting for the operator's /readyz"
        sleep 1
      done
      return 0
    done
    fail "no port could be bound in 3 attempts"
  }
  start_operator
  pass "operator running out of cluster (pid $OPERATOR_PID)"
fi
# The sum of the operator's series starting with $1, from /metrics (out of cluster only).
metric_sum() {
  curl --noproxy '*' -fsS "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { print s + 0 }'
}

# ------------------------------------------------------------- 1. children
STEP="apply samples"
IMAGE_LINE=""
if [ -n "${E2E_IMAGE:-}" ]; then
  # repository:tag, where the tag follows the last ':' after the last '/'.
  case "${E2E_IMAGE##*/}" in
    *:*) IMAGE_LINE="  image: {repository: \"${E2E_IMAGE%:*}\", tag: \"${E2E_IMAGE##*:}\"}" ;;
    *) fail "E2E_IMAGE must be repository:tag, got '$E2E_IMAGE'" ;;
  esac
fi
cat >"$WORK/minimal.yaml" <<MANIFEST
apiVersion: xagent.io/v1alpha1
kind: XAgent
metadata:
  name: demo
  namespace: $NS
spec:
$IMAGE_LINE
  api: {}
MANIFEST
kubectl apply -f "$WORK/minimal.yaml" >/dev/null || fail "the minimal sample was rejected"
# The full sample's pods can never start here (its Secrets and ConfigMap do
# not exist): keep them off the nodes so they reserve no capacity demo needs.
sed -e "s/^  namespace: .*/  namespace: $NS/" \
    -e "s|^    kubernetes.io/os: linux|    xagent.io/e2e-no-such-node: \"true\"|" \
    "$ROOT/config/samples/xagent.yaml" >"$WORK/full.yaml"
grep -q "xagent.io/e2e-no-such-node" "$WORK/full.yaml" || fail "could not pin the full sample off the nodes"
kubectl apply -f "$WORK/full.yaml" >/dev/null || fail "the full sample was rejected"
pass "samples accepted by the API server"

STEP="children"
for x in demo production; do
  for kind in deployment/$x-api service/$x-api hpa/$x-api pdb/$x-api \
              deployment/$x-websocket service/$x-websocket pdb/$x-websocket \
              deployment/$x-worker service/$x-worker hpa/$x-worker pdb/$x-worker; do
    wait_for "$kind" kubectl get -n "$NS" "$kind"
  done
done
wait_for "statefulset/production-chromadb" kubectl get -n "$NS" statefulset/production-chromadb
wait_for "service/production-chromadb" kubectl get -n "$NS" service/production-chromadb
for np in production-api production-websocket production-worker production-chromadb; do
  wait_for "networkpolicy/$np" kubectl get -n "$NS" "networkpolicy/$np"
done
wait_for "ingress/production" kubectl get -n "$NS" ingress/production
pass "every child exists"

owner=$(jsonpath deployment/demo-api '{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].controller}')
[ "$owner" = "XAgent/demo/true" ] || fail "deployment/demo-api owner reference is '$owner'"
target=$(jsonpath hpa/demo-api '{.spec.scaleTargetRef.kind}/{.spec.scaleTargetRef.name} {.spec.minReplicas}-{.spec.maxReplicas}')
[ "$target" = "Deployment/demo-api 2-10" ] || fail "hpa/demo-api is '$target'"
affinity=$(jsonpath service/demo-websocket '{.spec.sessionAffinity}')
[ "$affinity" = "ClientIP" ] || fail "websocket Service affinity is '$affinity'"
managed=$(jsonpath deployment/demo-api '{.metadata.labels.app\.kubernetes\.io/managed-by}')
[ "$managed" = "xagent-operator" ] || fail "managed-by label is '$managed'"
pass "owner references, labels and session affinity"

# ---------------------------------------------------------------- 2. status
STEP="status"
status_current() {
  [ "$(jsonpath xagent/demo '{.status.observedGeneration}')" = "$(jsonpath xagent/demo '{.metadata.generation}')" ] &&
    [ -n "$(jsonpath xagent/demo '{.status.conditions[?(@.type=="Ready")].status}')" ]
}
wait_for "xagent/demo status for its generation" status_current
for c in Ready Available Progressing Degraded; do
  [ -n "$(jsonpath xagent/demo "{.status.conditions[?(@.type==\"$c\")].status}")" ] || fail "condition $c missing"
done
[ "$(jsonpath xagent/demo '{.status.conditions[?(@.type=="Degraded")].status}')" = "False" ] \
  || fail "demo is Degraded: $(jsonpath xagent/demo '{.status.conditions[?(@.type=="Degraded")].message}')"
if [ -n "$PROM_CRDS" ]; then
  wait_for "MonitoringReady=True" sh -c "[ \"\$(kubectl get -n $NS xagent/demo -o jsonpath='{.status.conditions[?(@.type==\"MonitoringReady\")].status}')\" = True ]"
  wait_for "servicemonitor/demo" kubectl get -n "$NS" servicemonitors.monitoring.coreos.com/demo
  wait_for "prometheusrule/demo" kubectl get -n "$NS" prometheusrules.monitoring.coreos.com/demo
  pass "ServiceMonitor and PrometheusRule applied"
else
  reason=$(jsonpath xagent/demo '{.status.conditions[?(@.type=="MonitoringReady")].reason}')
  if kubectl get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1; then
    log "Prometheus Operator CRDs already present in the cluster; MonitoringReady reason: $reason"
  else
    [ "$reason" = "PrometheusOperatorNotInstalled" ] || fail "MonitoringReady reason is '$reason'"
  fi
fi
pass "status: observedGeneration and conditions"
if [ "$HAVE_NODES" -eq 1 ] && [ "${E2E_EXPECT_READY:-0}" = "1" ]; then
  kubectl wait -n "$NS" --for=condition=Ready --timeout="${TIMEOUT}s" xagent/demo >/dev/null || fail "demo never became Ready"
  pass "kubectl wait --for=condition=Ready"
elif [ "$HAVE_NODES" -eq 0 ]; then
  skip "Ready=True needs running pods; this cluster has no schedulable nodes"
else
  skip "Ready=True needs an image implementing the container contract (set E2E_IMAGE and E2E_EXPECT_READY=1)"
fi

# ------------------------------------------------------------- 3. repairs
STEP="repair an edited child"
want_image=$(jsonpath deployment/demo-api '{.spec.template.spec.containers[0].image}')
kubectl patch -n "$NS" deployment/demo-api --type=json \
  -p '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"edited/by-hand:1"}]' >/dev/null \
  || fail "could not edit deployment/demo-api"
image_restored() { [ "$(jsonpath deployment/demo-api '{.spec.template.spec.containers[0].image}')" = "$want_image" ]; }
wait_for "deployment/demo-api image to be restored" image_restored
pass "an edited child is put back"

STEP="repair a deleted child"
old_uid=$(jsonpath service/demo-websocket '{.metadata.uid}')
kubectl delete -n "$NS" service/demo-websocket --wait=true >/dev/null || fail "could not delete service/demo-websocket"
recreated() { uid=$(jsonpath service/demo-websocket '{.metadata.uid}'); [ -n "$uid" ] && [ "$uid" != "$old_uid" ]; }
wait_for "service/demo-websocket to be recreated" recreated
pass "a deleted child is recreated"

# -------------------------------------------------------- 4. steady state
STEP="steady state"
# What the operator wrote: per object (both XAgents' children of every kind,
# and demo's status), the uid and the time of the operator's own last write
# in managedFields. Generations and status are left out: HPAs and the
# Deployment controller change them legitimately. So is production's status:
# its Redis and PostgreSQL Secrets do not exist, and the operator republishes
# a failing dependency's record at 1, 2, 3, 5, 10... failed probes, by design.
KINDS=deployments,statefulsets,services,hpa,pdb,networkpolicies,ingresses
snapshot() {
  kubectl get -n "$NS" xagent/demo -o \
    jsonpath='{range .metadata.managedFields[?(@.manager=="xagent-operator")]}{.subresource}={.time}{" "}{end}{"\n"}' || return 1
  kubectl get -n "$NS" "$KINDS" -l 'app.kubernetes.io/instance in (demo,production)' -o \
    jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.metadata.uid} {range .metadata.managedFields[?(@.manager=="xagent-operator")]}{.time}{" "}{end}{"\n"}{end}' || return 1
}
settled() {
  local first second
  first=$(snapshot) || return 1
  sleep 10
  second=$(snapshot) || return 1
  [ "$first" = "$second" ]
}
wait_for "the XAgents to settle" settled
before=$(snapshot) || fail "could not read the objects"
applied_before=""
reconciles_before=""
if [ -n "$OPERATOR_PID" ]; then
  applied_before=$(metric_sum xagent_objects_applied_total)
  reconciles_before=$(metric_sum 'xagent_reconciles_total{outcome="success"}')
fi
# Make the operator reconcile during the window: an annotation changes the
# XAgents without asking for anything new.
for i in 1 2 3; do
  kubectl annotate -n "$NS" --overwrite xagent/demo xagent/production "e2e.xagent.io/poke=$i" >/dev/null \
    || fail "could not annotate the XAgents"
  sleep 10
done
after=$(snapshot) || fail "could not read the objects"
if [ "$before" != "$after" ]; then
  diff <(echo "$before") <(echo "$after") >&2 || true
  fail "the operator wrote to a child or to demo's status during 30 s of steady state"
fi
if [ -n "$OPERATOR_PID" ]; then
  [ "$(metric_sum xagent_objects_applied_total)" = "$applied_before" ] \
    || fail "xagent_objects_applied_total moved during steady state"
  [ "$(metric_sum 'xagent_reconciles_total{outcome="success"}')" != "$reconciles_before" ] \
    || fail "the annotations triggered no reconcile: the steady-state check tested nothing"
fi
pass "30 s of steady state with reconciles wrote nothing"

# ----------------------------------------------------- 5. invalid XAgents
STEP="invalid XAgents"
expect_rejected() {
  local name="$1" text="$2" manifest="$3" out
  if out=$(printf '%s\n' "$manifest" | kubectl apply --validate=strict -f - 2>&1); then
    kubectl delete -n "$NS" xagent "$name" --ignore-not-found >/dev/null 2>&1
    fail "the API server accepted $name: $out"
  fi
  echo "$out" | grep -q -- "$text" || fail "rejection of $name does not mention '$text': $out"
}
expect_rejected bad-range "minReplicas must be less than or equal to" "apiVersion: xagent.io/v1alpha1
kind: XAgent
metadata: {name: bad-range, namespace: $NS}
spec: {api: {autoscaling: {minReplicas: 8, maxReplicas: 3}}}"
expect_rejected bad-bound "maxReplicas" "apiVersion: xagent.io/v1alpha1
kind: XAgent
metadata: {name: bad-bound, namespace: $NS}
spec: {worker: {autoscaling: {maxReplicas: 5000}}}"
expect_rejected bad-enum "pullPolicy" "apiVersion: xagent.io/v1alpha1
kind: XAgent
metadata: {name: bad-enum, namespace: $NS}
spec: {image: {pullPolicy: Sometimes}}"
expect_rejected bad-field "replica" "apiVersion: xagent.io/v1alpha1
kind: XAgent
metadata: {name: bad-field, namespace: $NS}
spec: {api: {replica: 3}}"
expect_rejected this-name-is-far-too-long-for-an-xagent-because-children-append "53 characters" "apiVersion: xagent.io/v1alpha1
kind: XAgent
metadata: {name: this-name-is-far-too-long-for-an-xagent-because-children-append, namespace: $NS}
spec: {}"
pass "invalid XAgents are rejected by the API server with clear messages"
[ "$(jsonpath deployment/demo-api '{.metadata.name}')" = "demo-api" ] || fail "a rejected apply disturbed demo's children"

# ------------------------------------------------------------ 6. deletion
STEP="garbage collection"
kubectl delete -n "$NS" xagent/demo --wait=true >/dev/null || fail "could not delete xagent/demo"
children_gone() {
  local left
  left=$(kubectl get -n "$NS" "$KINDS" -l app.kubernetes.io/instance=demo -o name) || return 1
  [ -z "$left" ]
}
wait_for "demo's children to be garbage-collected" children_gone
pass "deleting the XAgent removes its children"
