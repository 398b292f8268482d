#!/usr/bin/env bash
# Offline checks of deploy/k8s: yamllint; both overlays, the topics Job and the HPA variant
# rendered (deploy/validate/kustomize.mjs, compared with `kubectl kustomize` when that is
# installed); every rendered object and the example Secret validated against its schema and
# for unknown fields (deploy/validate/validate.mjs); the shell script of the topics Job
# checked by shellcheck; the broken fixtures in tests/deploy/fixtures each caught; every metric the
# Grafana dashboard queries either registered by the programs or listed as pending.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$WDTS_SOURCE_DIR"
k8s=deploy/k8s
tmp=$(mktemp -d /tmp/wdts-deploy.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

deploy_npm_ci

echo "== yamllint"
yamllint -s -c "$k8s/.yamllint" "$k8s" || deploy_fail "yamllint found problems in $k8s"

echo "== render"
# The HPA variant: prod's base with components/hpa instead of components/keda.
mkdir -p "$tmp/prod-hpa"
rel=$(realpath --relative-to="$tmp/prod-hpa" "$WDTS_SOURCE_DIR/$k8s") # kustomize wants relative
cat >"$tmp/prod-hpa/kustomization.yaml" <<EOK
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: wdtsync
resources:
  - $rel/base
components:
  - $rel/components/hpa
EOK
targets=("dev:$k8s/overlays/dev" "prod:$k8s/overlays/prod" "topics:$k8s/topics"
    "prod-hpa:$tmp/prod-hpa")
rendered=()
for t in "${targets[@]}"; do
    name=${t%%:*} dir=${t#*:}
    node deploy/validate/render.mjs "$dir" >"$tmp/$name.yaml" || deploy_fail "rendering $dir"
    echo "$name: $(grep -c '^kind:' "$tmp/$name.yaml") objects"
    rendered+=("$tmp/$name.yaml")
done
grep -q '^kind: ScaledObject' "$tmp/prod.yaml" || deploy_fail "prod has no ScaledObject"
grep -q '^kind: HorizontalPodAutoscaler' "$tmp/prod-hpa.yaml" || deploy_fail "prod-hpa has no HPA"
node --input-type=module -e '
    import { parseYamlFile } from "./deploy/validate/kustomize.mjs";
    const w = parseYamlFile(process.argv[1]).find((o) => o.kind === "Deployment" &&
        o.metadata.name === "wdtsync-worker");
    process.exit(w && !("replicas" in w.spec) ? 0 : 1);
' "$tmp/prod.yaml" || deploy_fail "prod worker Deployment still sets replicas although KEDA owns them"

if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then
    echo "== cross-check with kubectl kustomize ($(kubectl version --client 2>/dev/null | grep -i kustomize || echo kustomize))"
    for t in "${targets[@]}"; do
        name=${t%%:*} dir=${t#*:}
        kubectl kustomize "$dir" >"$tmp/$name.kubectl.yaml" || deploy_fail "kubectl kustomize $dir"
        node deploy/validate/same.mjs "$tmp/$name.yaml" "$tmp/$name.kubectl.yaml" ||
            deploy_fail "deploy/validate/kustomize.mjs and kubectl kustomize disagree on $dir"
    done
else
    echo "== no kubectl kustomize here: rendered by deploy/validate/kustomize.mjs only"
fi

echo "== validate"
node deploy/validate/validate.mjs "${rendered[@]}" "$k8s/secret.example.yaml" ||
    deploy_fail "a manifest is invalid (see above)"

echo "== every WDT_* variable is a setting of deploy/CONFIG.md"
mapfile -t vars < <(grep -ohE '\bWDT_[A-Z0-9_]+' "${rendered[@]}" | sort -u)
[[ ${#vars[@]} -gt 0 ]] || deploy_fail "no WDT_* variable in the rendered manifests"
for v in "${vars[@]}"; do
    base=${v%_FILE}
    if [[ "$v" == WDT_KAFKA_* || "$v" == WDT_CONFIG_FILE ]]; then
        continue # librdkafka pass-through (checked by librdkafka at start), config file
    elif grep -qE "^\| \`[a-z.]+\` \| \`$v\` \|" deploy/CONFIG.md; then
        continue
    elif [[ "$v" != "$base" ]] &&
        grep -E "^\| \`[a-z.]+\` \| \`$base\` \|" deploy/CONFIG.md | grep -q 'secret'; then
        continue
    fi
    deploy_fail "$v is not a setting in deploy/CONFIG.md (misspelled, or *_FILE of a non-secret)"
done
echo "${#vars[@]} variables known"

echo "== shellcheck the topics Job's script"
node --input-type=module -e '
    import { parseYamlFile } from "./deploy/validate/kustomize.mjs";
    const job = parseYamlFile(process.argv[1]).find((o) => o.kind === "Job");
    process.stdout.write(job.spec.template.spec.containers[0].args[0]);
' "$tmp/topics.yaml" >"$tmp/topics-job.sh"
[[ -s "$tmp/topics-job.sh" ]] || deploy_fail "no script found in the topics Job"
shellcheck -s bash -S warning "$tmp/topics-job.sh" || deploy_fail "shellcheck: the topics Job's script"

echo "== broken fixtures must be caught"
fixtures=tests/deploy/fixtures
expect_invalid() { # FILE PATTERN...: validate.mjs must fail and print every pattern
    local file=$1 out
    shift
    if out=$(node deploy/validate/validate.mjs "$file"); then
        deploy_fail "$file passed validation but is broken on purpose"
    fi
    local pat
    for pat in "$@"; do
        grep -qF -- "$pat" <<<"$out" || { echo "$out"; deploy_fail "$file: expected \"$pat\""; }
    done
    echo "caught: $file"
}
expect_invalid "$fixtures/wrong-type.yaml" "/spec/replicas: must be integer"
expect_invalid "$fixtures/missing-field.yaml" "must have required property selector" \
    "/spec/template/spec/containers/0: must have required property name"
expect_invalid "$fixtures/misspelled-field.yaml" \
    "/spec/template/spec/terminationGracePeriod: unknown field" \
    "/spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem: unknown field"
expect_invalid "$fixtures/misspelled-crd-field.yaml" "/spec/maxReplicas: unknown field"
if out=$(node deploy/validate/render.mjs "$fixtures/bad-kustomization" 2>&1); then
    deploy_fail "the misspelled kustomization field was accepted"
fi
grep -qF 'field "resource" is not supported' <<<"$out" || { echo "$out"; deploy_fail "bad-kustomization: wrong message"; }
echo "caught: $fixtures/bad-kustomization"

echo "== dashboard metrics"
dash=$k8s/components/grafana-dashboard/wdtsync.json
pending=$k8s/components/grafana-dashboard/pending-metrics.txt
node -e '
    const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const exprs = (d.panels || []).flatMap((p) => (p.targets || []).map((t) => t.expr));
    if (!d.uid || !d.title || exprs.length === 0 || exprs.some((e) => !e))
        throw new Error("needs uid, title and panels whose targets all have an expr");
    console.log(`${d.panels.length} panels, ${exprs.length} queries`);
' "$dash" || deploy_fail "$dash is not a usable Grafana dashboard"
mapfile -t used < <(grep -oE '\bwdt_[a-z0-9_]+' "$dash" | sed -E 's/_(bucket|sum|count)$//' | sort -u)
[[ ${#used[@]} -gt 0 ]] || deploy_fail "no wdt_* metric found in $dash"
missing=0
for m in "${used[@]}"; do
    listed=0
    grep -qx "$m" <(grep -v '^#' "$pending") && listed=1
    if git grep -qF "\"$m\"" -- '*.c' ':!tests' 2>/dev/null; then
        if ((listed)); then
            echo "registered: $m (now registered: remove it from $pending)"
        else
            echo "registered: $m"
        fi
    elif ((listed)); then
        echo "pending:    $m (queried by the dashboard, not registered by any program yet)"
    else
        echo "unknown:    $m (neither registered nor listed in $pending)"
        missing=1
    fi
done
((missing == 0)) || deploy_fail "the dashboard queries metrics nobody registers"
echo "manifests: all checks passed"
