#!/usr/bin/env bash
# Checks the Helm chart helm/stream-notifier (make helm-check; not part of make test/lint):
#
#   1. helm lint --strict, with the default values and with each helm/stream-notifier/ci/*.yaml
#   2. helm template of each values file | kubeconform -strict, against the Kubernetes JSON
#      schemas of the oldest Kubernetes the chart supports and of the one helm is built for
#   3. the rendered config.yaml + routes.yaml load with the service's own parser (needs .venv)
#   4. the chart refuses what it must: no API key, an API key in the ConfigMap,
#      terminationGracePeriodSeconds not longer than delivery.shutdown_timeout; and a change
#      of the routes changes the checksum/config annotation (pods roll)
#
# Tools are built once into .local/tools (git-ignored), from the Go module proxy with
# `go install`: helm (HELM_VERSION) and kubeconform (KUBECONFORM_VERSION). kubeconform's
# schemas normally come from GitHub, which our machines cannot reach: they are taken from
# the kubernetes-validate wheel on PyPI instead (made self-contained for kubeconform). If
# that download fails, kubeconform tries its default location with -ignore-missing-schemas,
# and where that cannot be reached either the kubeconform step is skipped with a WARNING.
#
# Environment:
#   HELM_VERSION                  helm.sh/helm/v3 version (default v3.21.4)
#   KUBECONFORM_VERSION           github.com/yannh/kubeconform version (default v0.8.0)
#   KUBE_VERSIONS                 Kubernetes versions to validate against
#                                 (default: "1.25.0 <the minor helm is built against>.0")
#   KUBERNETES_VALIDATE_VERSION   the PyPI package the schemas come from (default 1.37.0)
#   HELM_CHECK_PYTHON             python with pip for the schema download
#                                 (default: .venv/bin/python, else python3)
#   STREAM_NOTIFIER_LOCAL         folder for local state instead of <repo>/.local
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$REPO/helm/stream-notifier"
LOCAL_ROOT="${STREAM_NOTIFIER_LOCAL:-$REPO/.local}"
TOOLS="$LOCAL_ROOT/tools"
BIN="$TOOLS/bin"
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.8.0}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
MIN_KUBE_VERSION=1.25.0 # Chart.yaml kubeVersion

say() { printf 'helm-check: %s\n' "$*"; }
die() { printf 'helm-check: FAILED: %s\n' "$*" >&2; exit 1; }

# A python with pip, for the schema download (the project's .venv has one).
PY="${HELM_CHECK_PYTHON:-}"
if [[ -z "$PY" ]]; then
    if [[ -x "$REPO/.venv/bin/python" ]]; then PY="$REPO/.venv/bin/python"; else PY=python3; fi
fi
"$PY" -c 'import json' 2>/dev/null || die "no python at $PY (set HELM_CHECK_PYTHON)"
command -v go >/dev/null || die "go is needed to build helm and kubeconform (go install)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$BIN"
export GOBIN="$BIN" GOFLAGS="${GOFLAGS:--buildvcs=false}"

# ---------------------------------------------------------------------------- tools
# helm: built as its Makefile does, so that it reports its version and defaults to the
# Kubernetes version of its client-go (a plain go install would pretend Kubernetes 1.20).
helm_module_info() {
    go mod download -json "helm.sh/helm/v3@$HELM_VERSION" |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["GoMod"])'
}
HELM_GOMOD="$(helm_module_info)" || die "cannot fetch helm.sh/helm/v3@$HELM_VERSION"
K8S_MINOR="$(sed -n 's|^[[:space:]]*k8s.io/client-go v0\.\([0-9][0-9]*\)\..*|\1|p' "$HELM_GOMOD" | head -1)"
[[ -n "$K8S_MINOR" ]] || die "cannot read the k8s.io/client-go version from $HELM_GOMOD"
HELM_STAMP="$HELM_VERSION k8s-1.$K8S_MINOR"
if [[ ! -x "$BIN/helm" || "$(cat "$BIN/helm.stamp" 2>/dev/null)" != "$HELM_STAMP" ]]; then
    say "building helm $HELM_VERSION (go install; takes a minute or two the first time)"
    started=$SECONDS
    go install -trimpath -ldflags "-w -s \
        -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
        -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
        -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
        -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR \
        -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
        -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR" \
        "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    echo "$HELM_STAMP" >"$BIN/helm.stamp"
    say "built helm in $((SECONDS - started))s"
fi
if [[ ! -x "$BIN/kubeconform" || "$(cat "$BIN/kubeconform.stamp" 2>/dev/null)" != "$KUBECONFORM_VERSION" ]]; then
    say "building kubeconform $KUBECONFORM_VERSION (go install)"
    started=$SECONDS
    go install -trimpath -ldflags "-w -s" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
    echo "$KUBECONFORM_VERSION" >"$BIN/kubeconform.stamp"
    say "built kubeconform in $((SECONDS - started))s"
fi
HELM="$BIN/helm"
KUBECONFORM="$BIN/kubeconform"
say "$("$HELM" version --short) (default Kubernetes 1.$K8S_MINOR), kubeconform $KUBECONFORM_VERSION"
KUBE_VERSIONS="${KUBE_VERSIONS:-$MIN_KUBE_VERSION 1.$K8S_MINOR.0}"
read -r -a KUBE_VERSION_LIST <<<"$KUBE_VERSIONS"

# Kubernetes JSON schemas from the kubernetes-validate wheel: its "-local-strict" schemas
# point into a shared _definitions.json by an https $id that kubeconform would try to fetch,
# so each schema gets the definitions it uses inlined, in kubeconform's directory layout.
SCHEMAS="$TOOLS/kubernetes-json-schema/$KUBERNETES_VALIDATE_VERSION"
prepare_schemas() {
    local wheel_dir="$TOOLS/downloads" wheels
    wheels=("$wheel_dir"/kubernetes_validate-"$KUBERNETES_VALIDATE_VERSION"-*.whl)
    if [[ ! -f "${wheels[0]}" ]]; then
        "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$wheel_dir" \
            "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" || return 1
        wheels=("$wheel_dir"/kubernetes_validate-"$KUBERNETES_VALIDATE_VERSION"-*.whl)
    fi
    "$PY" - "${wheels[0]}" "$SCHEMAS" "${KUBE_VERSION_LIST[@]}" <<'EOF'
import json, sys, zipfile
from pathlib import Path

wheel, out, versions = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
PREFIX = "/api/_definitions.json#/$defs/"

def refs(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                refs(value, found)
    elif isinstance(node, list):
        for value in node:
            refs(value, found)
    return found

with zipfile.ZipFile(wheel) as z:
    for version in versions:
        target = out / f"v{version}-standalone-strict"
        if (target / ".complete").exists():
            continue
        base = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
        names = [n for n in z.namelist() if n.startswith(base) and n.endswith(".json")]
        if not names:
            sys.exit(f"the kubernetes-validate wheel has no schemas for Kubernetes {version}")
        defs = json.loads(z.read(base + "_definitions.json"))["$defs"]
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            file = name[len(base):]
            if file in ("_definitions.json", "all.json"):
                continue
            schema = json.loads(z.read(name).decode().replace(PREFIX, "#/$defs/"))
            todo, used = refs(schema, set()), set()
            while todo:
                d = todo.pop()
                if d not in used:
                    used.add(d)
                    refs(defs[d], todo)
            schema["$defs"] = {d: defs[d] for d in sorted(used)}
            (target / file).write_text(json.dumps(schema))
        (target / ".complete").touch()
EOF
}
SCHEMA_ARGS=()
LOCAL_SCHEMAS=""
KUBECONFORM_SKIPPED=""
if prepare_schemas; then
    LOCAL_SCHEMAS=yes
    SCHEMA_ARGS=(-schema-location "$SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json")
    say "schemas: kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI), Kubernetes $KUBE_VERSIONS"
else
    SCHEMA_ARGS=(-schema-location default -ignore-missing-schemas)
    say "WARNING: no schemas from PyPI (kubernetes-validate $KUBERNETES_VALIDATE_VERSION);" \
        "kubeconform tries its default location (GitHub), and is skipped if that fails too"
fi

# ---------------------------------------------------------------------------- checks
VALUES_FILES=("$CHART"/ci/*.yaml)
[[ -e "${VALUES_FILES[0]}" ]] || die "no values files in $CHART/ci"

say "helm lint --strict (default values)"
"$HELM" lint --strict "$CHART" >"$WORK/lint.txt" 2>&1 || { cat "$WORK/lint.txt"; die "helm lint"; }
for values in "${VALUES_FILES[@]}"; do
    say "helm lint --strict -f ${values#"$REPO"/}"
    "$HELM" lint --strict "$CHART" -f "$values" >"$WORK/lint.txt" 2>&1 ||
        { cat "$WORK/lint.txt"; die "helm lint -f $values"; }
done

# The service's own parser on the rendered ConfigMap, with the Deployment's environment.
SERVICE_PY=""
if [[ -x "$REPO/.venv/bin/python" ]] && "$REPO/.venv/bin/python" -c 'import stream_notifier' 2>/dev/null; then
    SERVICE_PY="$REPO/.venv/bin/python"
else
    say "WARNING: no .venv with stream_notifier (make venv): the rendered config is not loaded"
fi
check_service_config() {
    "$SERVICE_PY" - "$1" <<'EOF'
import sys, tempfile
from pathlib import Path
import yaml
from stream_notifier.config import load_config

docs = [d for d in yaml.safe_load_all(Path(sys.argv[1]).read_text()) if d]
configmap = next(d for d in docs if d["kind"] == "ConfigMap")
deployment = next(d for d in docs if d["kind"] == "Deployment")
container = deployment["spec"]["template"]["spec"]["containers"][0]
env = {e["name"]: e.get("value", "from-a-secret") for e in container.get("env", [])}
with tempfile.TemporaryDirectory() as folder:
    for name, text in configmap["data"].items():
        (Path(folder) / name).write_text(text)
    config = load_config(Path(folder) / "config.yaml", env)
print(f"config loads: group {config.kafka.group_id}, topics {list(config.kafka.topics)}, "
      f"{len(config.routes.routes)} route(s), shutdown_timeout {config.delivery.shutdown_timeout_s}s")
EOF
}

# kubeconform, or, when the schemas could not be had at all, a loud skip.
run_kubeconform() {
    local kube="$1" manifests="$2"
    if "$KUBECONFORM" -strict -summary -kubernetes-version "$kube" "${SCHEMA_ARGS[@]}" \
        "$manifests" >"$WORK/kubeconform.txt" 2>&1; then
        cat "$WORK/kubeconform.txt"
        return 0
    fi
    if [[ -z "$LOCAL_SCHEMAS" ]] && grep -q 'failed downloading schema' "$WORK/kubeconform.txt" &&
        ! grep -q ' is invalid: ' "$WORK/kubeconform.txt"; then
        say "WARNING: kubeconform SKIPPED for Kubernetes $kube: its schemas cannot be downloaded here"
        KUBECONFORM_SKIPPED=yes
        return 0
    fi
    cat "$WORK/kubeconform.txt"
    return 1
}

for values in "${VALUES_FILES[@]}"; do
    name="$(basename "$values" .yaml)"
    for kube in "${KUBE_VERSION_LIST[@]}"; do
        say "helm template -f ${values#"$REPO"/} --kube-version $kube | kubeconform -strict"
        "$HELM" template check "$CHART" -f "$values" --kube-version "$kube" >"$WORK/$name.yaml"
        run_kubeconform "$kube" "$WORK/$name.yaml" || die "kubeconform: $values on Kubernetes $kube"
    done
    if [[ -n "$SERVICE_PY" ]]; then
        check_service_config "$WORK/$name.yaml" || die "the rendered config of $values does not load"
    fi
done

# NOTES.txt is rendered only by install/upgrade, which need a cluster: render a copy of the
# chart in which it is the block scalar of a YAML template instead.
cp -r "$CHART" "$WORK/notes-chart"
{
    echo "notes: |"
    sed 's/^/  /' "$CHART/templates/NOTES.txt"
} >"$WORK/notes-chart/templates/notes-preview.yaml"
rm "$WORK/notes-chart/templates/NOTES.txt"
for values in "${VALUES_FILES[@]}"; do
    "$HELM" template check "$WORK/notes-chart" -f "$values" --show-only templates/notes-preview.yaml \
        >"$WORK/notes.yaml" || die "NOTES.txt does not render with $values"
done
say "NOTES.txt renders"

# What the chart must refuse, each with its message.
expect_failure() {
    local what="$1" message="$2"
    shift 2
    if "$HELM" template check "$CHART" "$@" >"$WORK/refused.txt" 2>&1; then
        die "the chart accepted $what"
    fi
    grep -q -- "$message" "$WORK/refused.txt" || { cat "$WORK/refused.txt"; die "$what: unexpected error"; }
    say "refuses $what"
}
expect_failure "no API key" "the notifications API key is required"
expect_failure "an API key in the ConfigMap" "config.api.api_key would put the API key" \
    --set apiKey.value=k --set config.api.api_key=k
expect_failure "a grace period not longer than shutdown_timeout" "must be longer than" \
    --set apiKey.value=k --set config.delivery.shutdown_timeout=1m --set terminationGracePeriodSeconds=60
expect_failure "a PDB with both minAvailable and maxUnavailable" "not both" \
    --set apiKey.value=k --set podDisruptionBudget.minAvailable=1

checksum() {
    "$HELM" template check "$CHART" --set apiKey.value=k "$@" |
        sed -n 's|^ *checksum/config: *||p'
}
[[ "$(checksum)" != "$(checksum --set 'routes.defaults.expires_hours=24')" ]] ||
    die "a change of the routes does not change checksum/config"
say "a routes change changes checksum/config (pods roll)"

if [[ -n "$KUBECONFORM_SKIPPED" ]]; then
    say "OK, but WITHOUT the kubeconform schema validation (no schemas could be had)"
else
    say "OK"
fi
