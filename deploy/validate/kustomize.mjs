// An offline renderer for the subset of kustomize that deploy/k8s uses, so that the
// manifests can be rendered and checked on a machine without the kustomize binary.
// Supported (anything else in a kustomization is an error, never silently ignored):
//   resources (files and directories), components (kind: Component), namespace,
//   configMapGenerator (literals, envs, files; behavior create|merge|replace;
//   options.disableNameSuffixHash and options.labels), images (name, newName, newTag,
//   digest), replicas, patches (path or inline patch; strategic merge or JSON 6902 with
//   add/remove/replace; target by group, version, kind, name).
// Generated ConfigMap names get kustomize's content hash suffix, and references to them in
// pod specs are renamed, as `kubectl kustomize` does; tests/deploy/manifests.sh compares
// the two whenever a kustomize binary is at hand.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";

export class KustomizeError extends Error {}

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const KNOWN_FIELDS = new Set([
    "apiVersion", "kind", "resources", "components", "namespace", "configMapGenerator",
    "images", "replicas", "patches",
]);
const CLUSTER_SCOPED = new Set([
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "PriorityClass", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration", "APIService", "IngressClass", "RuntimeClass",
]);
// Strategic-merge keys of the lists we patch in built-in kinds (patchMergeKey in the
// Kubernetes OpenAPI). Other lists, and every list of a custom resource, are replaced.
const MERGE_KEYS = {
    containers: "name", initContainers: "name", ephemeralContainers: "name", env: "name",
    volumes: "name", volumeMounts: "mountPath", ports: "containerPort",
    imagePullSecrets: "name", topologySpreadConstraints: "topologyKey",
};
// Legacy output order of kustomize (kinds not listed follow, sorted by kind then name).
const ORDER_FIRST = [
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
    "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
    "ConfigMap", "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass",
    "PersistentVolume", "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

function fail(where, msg) {
    throw new KustomizeError(`${where}: ${msg}`);
}

function isMap(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

function clone(v) {
    return v === undefined ? undefined : structuredClone(v);
}

/** Parses every document of a YAML file; empty documents are skipped. */
export function parseYamlFile(file) {
    let text;
    try {
        text = readFileSync(file, "utf8");
    } catch (e) {
        fail(file, `cannot read: ${e.message}`);
    }
    const docs = YAML.parseAllDocuments(text, { version: "1.1", prettyErrors: true });
    const out = [];
    for (const d of docs) {
        if (d.errors.length > 0)
            fail(file, `YAML error: ${d.errors[0].message}`);
        const v = d.toJS({ maxAliasCount: 100 });
        if (v !== null && v !== undefined)
            out.push(v);
    }
    return out;
}

function findKustomization(dir) {
    for (const f of KUSTOMIZATION_FILES) {
        const p = path.join(dir, f);
        if (existsSync(p))
            return p;
    }
    fail(dir, "no kustomization.yaml in this directory");
    return null;
}

function groupOf(apiVersion) {
    const i = (apiVersion || "").indexOf("/");
    return i < 0 ? "" : apiVersion.slice(0, i);
}

function versionOf(apiVersion) {
    const i = (apiVersion || "").indexOf("/");
    return i < 0 ? apiVersion || "" : apiVersion.slice(i + 1);
}

function idOf(o) {
    return `${o.kind}/${o.metadata?.name}`;
}

// --- configMapGenerator -------------------------------------------------------------------

function parseEnvFile(file) {
    const data = {};
    let text;
    try {
        text = readFileSync(file, "utf8");
    } catch (e) {
        fail(file, `cannot read: ${e.message}`);
    }
    text.split("\n").forEach((raw, i) => {
        const line = raw.replace(/\r$/, "").replace(/^\s+/, "");
        if (line === "" || line.startsWith("#"))
            return;
        const eq = line.indexOf("=");
        if (eq <= 0)
            fail(`${file}:${i + 1}`, `expected KEY=value, got "${line}"`);
        const key = line.slice(0, eq);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
            fail(`${file}:${i + 1}`, `"${key}" is not a valid variable name`);
        data[key] = line.slice(eq + 1);
    });
    return data;
}

function generatorData(dir, gen, where) {
    const data = {};
    const put = (k, v, src) => {
        if (Object.hasOwn(data, k))
            fail(where, `key "${k}" given twice (${src})`);
        data[k] = v;
    };
    for (const lit of gen.literals || []) {
        const eq = lit.indexOf("=");
        if (eq <= 0)
            fail(where, `literal "${lit}" is not KEY=value`);
        let v = lit.slice(eq + 1);
        if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0])
            v = v.slice(1, -1);
        put(lit.slice(0, eq), v, "literals");
    }
    for (const env of gen.envs || []) {
        const kv = parseEnvFile(path.join(dir, env));
        for (const [k, v] of Object.entries(kv))
            put(k, v, env);
    }
    for (const f of gen.files || []) {
        const eq = f.indexOf("=");
        const key = eq > 0 ? f.slice(0, eq) : path.basename(f);
        const p = path.join(dir, eq > 0 ? f.slice(eq + 1) : f);
        try {
            put(key, readFileSync(p, "utf8"), f);
        } catch (e) {
            if (e instanceof KustomizeError)
                throw e;
            fail(where, `cannot read ${p}: ${e.message}`);
        }
    }
    return data;
}

const GEN_FIELDS = new Set(["name", "behavior", "literals", "envs", "files", "options"]);
const GEN_OPTIONS = new Set(["disableNameSuffixHash", "labels"]);

function runGenerators(dir, k, resources, where) {
    for (const gen of k.configMapGenerator || []) {
        for (const f of Object.keys(gen))
            if (!GEN_FIELDS.has(f))
                fail(where, `configMapGenerator field "${f}" is not supported by this renderer`);
        for (const f of Object.keys(gen.options || {}))
            if (!GEN_OPTIONS.has(f))
                fail(where, `configMapGenerator option "${f}" is not supported by this renderer`);
        if (!gen.name)
            fail(where, "configMapGenerator entry without a name");
        const behavior = gen.behavior || "create";
        const data = generatorData(dir, gen, `${where} (configMapGenerator ${gen.name})`);
        const existing = resources.find(
            (o) => o.kind === "ConfigMap" && o.metadata.name === gen.name && o.__generated);
        if (behavior === "create") {
            if (existing)
                fail(where, `ConfigMap ${gen.name} is generated twice (use behavior: merge)`);
            const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: gen.name } };
            if (gen.options?.labels)
                cm.metadata.labels = { ...gen.options.labels };
            cm.data = data;
            Object.defineProperty(cm, "__generated", {
                value: { hash: !gen.options?.disableNameSuffixHash }, writable: true,
            });
            resources.push(cm);
        } else if (behavior === "merge" || behavior === "replace") {
            if (!existing)
                fail(where, `behavior ${behavior}: no generated ConfigMap ${gen.name} to ${behavior}`);
            existing.data = behavior === "merge" ? { ...existing.data, ...data } : data;
            if (gen.options?.labels)
                existing.metadata.labels = { ...existing.metadata.labels, ...gen.options.labels };
            if (gen.options && "disableNameSuffixHash" in gen.options)
                existing.__generated.hash = !gen.options.disableNameSuffixHash;
        } else {
            fail(where, `configMapGenerator behavior "${behavior}" is not create, merge or replace`);
        }
    }
}

/**
 * kustomize's name suffix: the first 10 hex digits of the sha256 of the JSON of
 * {data, kind, name}, with 0 1 3 a e replaced by g h k m t. kustomize 5 looks the name up
 * with a path it does not find, so "name" is always empty in what it hashes: done so here.
 */
export function configMapHash(cm) {
    const m = { data: cm.data || {}, kind: "ConfigMap", name: "" };
    const sorted = (v) => isMap(v)
        ? Object.fromEntries(Object.keys(v).sort().map((key) => [key, sorted(v[key])])) : v;
    // Go's encoding/json escapes <, >, & and U+2028/U+2029; JSON.stringify does not.
    const json = JSON.stringify(sorted(m)).replace(/[<>&\u2028\u2029]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    const hex = createHash("sha256").update(json, "utf8").digest("hex").slice(0, 10);
    const swap = { 0: "g", 1: "h", 3: "k", a: "m", e: "t" };
    return [...hex].map((c) => swap[c] || c).join("");
}

// --- patches --------------------------------------------------------------------------------

function strategicMerge(dst, patch, builtin) {
    if (!isMap(dst) || !isMap(patch))
        return clone(patch);
    const out = { ...dst };
    for (const [key, pv] of Object.entries(patch)) {
        if (key.startsWith("$"))
            fail("patch", `directive ${key} is not supported by this renderer`);
        const dv = out[key];
        if (pv === null) {
            delete out[key];
        } else if (Array.isArray(pv) && Array.isArray(dv) && builtin && MERGE_KEYS[key]) {
            const mk = MERGE_KEYS[key];
            const merged = dv.map(clone);
            for (const item of pv) {
                const i = merged.findIndex((d) => isMap(d) && isMap(item) && d[mk] === item[mk]);
                if (i >= 0)
                    merged[i] = strategicMerge(merged[i], item, builtin);
                else
                    merged.push(clone(item));
            }
            out[key] = merged;
        } else if (isMap(pv) && isMap(dv)) {
            out[key] = strategicMerge(dv, pv, builtin);
        } else {
            out[key] = clone(pv);
        }
    }
    return out;
}

function pointer(p, where) {
    if (typeof p !== "string" || !p.startsWith("/"))
        fail(where, `JSON patch path "${p}" must start with /`);
    return p.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function jsonPatch(obj, ops, where) {
    const out = clone(obj);
    for (const op of ops) {
        const parts = pointer(op.path, where);
        const last = parts.pop();
        let parent = out;
        for (const p of parts) {
            parent = Array.isArray(parent) ? parent[Number(p)] : parent?.[p];
            if (parent === undefined || parent === null || typeof parent !== "object")
                fail(where, `JSON patch ${op.op} ${op.path}: the path does not exist`);
        }
        const exists = Array.isArray(parent) ? Number(last) < parent.length : Object.hasOwn(parent, last);
        if (op.op === "remove" || op.op === "replace") {
            if (!exists)
                fail(where, `JSON patch ${op.op} ${op.path}: the path does not exist`);
            if (op.op === "replace")
                parent[last] = clone(op.value);
            else if (Array.isArray(parent))
                parent.splice(Number(last), 1);
            else
                delete parent[last];
        } else if (op.op === "add") {
            if (Array.isArray(parent))
                parent.splice(last === "-" ? parent.length : Number(last), 0, clone(op.value));
            else
                parent[last] = clone(op.value);
        } else {
            fail(where, `JSON patch op "${op.op}" is not supported by this renderer`);
        }
    }
    return out;
}

function matches(o, t) {
    const anchored = (re, v) => new RegExp(`^(?:${re})$`).test(v || "");
    return (!t.group || anchored(t.group, groupOf(o.apiVersion))) &&
        (!t.version || anchored(t.version, versionOf(o.apiVersion))) &&
        (!t.kind || anchored(t.kind, o.kind)) &&
        (!t.name || anchored(t.name, o.metadata?.name));
}

const PATCH_FIELDS = new Set(["path", "patch", "target"]);
const TARGET_FIELDS = new Set(["group", "version", "kind", "name"]);

function applyPatches(dir, k, resources, where) {
    for (const p of k.patches || []) {
        for (const f of Object.keys(p))
            if (!PATCH_FIELDS.has(f))
                fail(where, `patches field "${f}" is not supported by this renderer`);
        for (const f of Object.keys(p.target || {}))
            if (!TARGET_FIELDS.has(f))
                fail(where, `patch target field "${f}" is not supported by this renderer`);
        let docs;
        let pwhere = where;
        if (p.path) {
            pwhere = path.join(dir, p.path);
            docs = parseYamlFile(pwhere);
        } else if (typeof p.patch === "string") {
            docs = YAML.parseAllDocuments(p.patch, { version: "1.1" }).map((d) => d.toJS());
        } else {
            fail(where, "a patch needs path or patch");
        }
        for (const doc of docs) {
            if (Array.isArray(doc)) {
                if (!p.target)
                    fail(pwhere, "a JSON 6902 patch needs a target");
                const hits = resources.filter((o) => matches(o, p.target));
                if (hits.length === 0)
                    fail(pwhere, `the patch target ${JSON.stringify(p.target)} matches nothing`);
                for (const o of hits)
                    replaceObject(resources, o, jsonPatch(o, doc, pwhere));
            } else if (isMap(doc)) {
                const t = p.target || {
                    kind: doc.kind, name: doc.metadata?.name,
                    group: groupOf(doc.apiVersion), version: versionOf(doc.apiVersion),
                };
                const hits = resources.filter((o) => matches(o, t));
                if (hits.length === 0)
                    fail(pwhere, `the patch target ${t.kind}/${t.name} matches nothing`);
                for (const o of hits) {
                    const builtin = !groupOf(o.apiVersion).includes(".") ||
                        groupOf(o.apiVersion).endsWith(".k8s.io");
                    const body = { ...doc };
                    delete body.apiVersion;
                    delete body.kind;
                    if (body.metadata) {
                        body.metadata = { ...body.metadata };
                        delete body.metadata.name;
                        delete body.metadata.namespace;
                    }
                    replaceObject(resources, o, strategicMerge(o, body, builtin));
                }
            } else {
                fail(pwhere, "a patch must be a map (strategic merge) or a list (JSON 6902)");
            }
        }
    }
}

function replaceObject(resources, old, neu) {
    if (old.__generated)
        Object.defineProperty(neu, "__generated", { value: old.__generated, writable: true });
    resources[resources.indexOf(old)] = neu;
}

// --- other transformers ---------------------------------------------------------------------

function podSpecs(o) {
    const specs = [];
    if (o.spec?.template?.spec)
        specs.push(o.spec.template.spec);
    if (o.spec?.jobTemplate?.spec?.template?.spec)
        specs.push(o.spec.jobTemplate.spec.template.spec);
    if (o.kind === "Pod" && o.spec)
        specs.push(o.spec);
    return specs;
}

function splitImage(img) {
    let rest = img;
    let digest = "";
    const at = rest.indexOf("@");
    if (at >= 0) {
        digest = rest.slice(at + 1);
        rest = rest.slice(0, at);
    }
    let tag = "";
    const colon = rest.lastIndexOf(":");
    if (colon > rest.lastIndexOf("/")) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
    }
    return { name: rest, tag, digest };
}

const IMAGE_FIELDS = new Set(["name", "newName", "newTag", "digest"]);

function applyImages(k, resources, where) {
    for (const im of k.images || []) {
        for (const f of Object.keys(im))
            if (!IMAGE_FIELDS.has(f))
                fail(where, `images field "${f}" is not supported by this renderer`);
        for (const o of resources) {
            for (const spec of podSpecs(o)) {
                for (const c of [...(spec.containers || []), ...(spec.initContainers || [])]) {
                    if (typeof c.image !== "string")
                        continue;
                    const cur = splitImage(c.image);
                    if (cur.name !== im.name)
                        continue;
                    const name = im.newName || cur.name;
                    let tag = im.newTag !== undefined ? String(im.newTag) : cur.tag;
                    let digest = cur.digest;
                    if (im.digest) {
                        digest = im.digest;
                        tag = "";
                    }
                    c.image = name + (tag ? `:${tag}` : "") + (digest ? `@${digest}` : "");
                }
            }
        }
    }
}

function applyReplicas(k, resources, where) {
    for (const r of k.replicas || []) {
        const hits = resources.filter((o) => o.metadata?.name === r.name &&
            ["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"].includes(o.kind));
        if (hits.length === 0)
            fail(where, `replicas: no Deployment or StatefulSet named ${r.name}`);
        if (!Number.isInteger(r.count))
            fail(where, `replicas: count of ${r.name} must be an integer`);
        for (const o of hits)
            o.spec.replicas = r.count;
    }
}

function applyNamespace(k, resources) {
    if (!k.namespace)
        return;
    for (const o of resources)
        if (!CLUSTER_SCOPED.has(o.kind))
            o.metadata.namespace = k.namespace;
}

// --- the build ------------------------------------------------------------------------------

function loadResources(dir, list, where, stack) {
    const out = [];
    for (const r of list || []) {
        if (/^[a-z]+:\/\//.test(r) || r.startsWith("git@"))
            fail(where, `remote resource "${r}": only local files and directories are supported`);
        const p = path.resolve(dir, r);
        if (!existsSync(p))
            fail(where, `resource "${r}" does not exist (${p})`);
        if (statSync(p).isDirectory()) {
            out.push(...build(p, stack, "Kustomization"));
        } else {
            for (const o of parseYamlFile(p)) {
                if (!isMap(o) || !o.kind || !isMap(o.metadata) || !o.metadata.name)
                    fail(p, "every document must have kind and metadata.name");
                out.push(o);
            }
        }
    }
    return out;
}

function readKustomization(dir, want) {
    const file = findKustomization(dir);
    const docs = parseYamlFile(file);
    if (docs.length !== 1 || !isMap(docs[0]))
        fail(file, "expected exactly one YAML map");
    const k = docs[0];
    for (const f of Object.keys(k))
        if (!KNOWN_FIELDS.has(f))
            fail(file, `field "${f}" is not supported by this renderer (supported: ${[...KNOWN_FIELDS].join(", ")})`);
    const kind = k.kind || "Kustomization";
    if (kind !== want)
        fail(file, `kind ${kind} found where a ${want} is expected`);
    return { k, file };
}

/** Applies the generators and transformers of one kustomization (or component) to resources. */
function transform(dir, k, resources, file) {
    runGenerators(dir, k, resources, file);
    applyPatches(dir, k, resources, file);
    applyNamespace(k, resources);
    applyReplicas(k, resources, file);
    applyImages(k, resources, file);
}

function build(dir, stack, want) {
    const abs = path.resolve(dir);
    if (stack.includes(abs))
        fail(abs, "kustomizations include each other in a cycle");
    const { k, file } = readKustomization(abs, want);
    const next = [...stack, abs];
    const resources = loadResources(abs, k.resources, file, next);
    for (const c of k.components || []) {
        const cdir = path.resolve(abs, c);
        const { k: ck, file: cfile } = readKustomization(cdir, "Component");
        resources.push(...loadResources(cdir, ck.resources, cfile, [...next, cdir]));
        transform(cdir, ck, resources, cfile);
    }
    transform(abs, k, resources, file);
    const seen = new Set();
    for (const o of resources) {
        const id = `${idOf(o)}@${o.metadata.namespace || ""}`;
        if (seen.has(id))
            fail(file, `${idOf(o)} is defined twice`);
        seen.add(id);
    }
    return resources;
}

function renameConfigMapRefs(o, renames) {
    const ren = (ref) => {
        if (ref && renames[ref.name])
            ref.name = renames[ref.name];
    };
    for (const spec of podSpecs(o)) {
        for (const c of [...(spec.containers || []), ...(spec.initContainers || [])]) {
            for (const ef of c.envFrom || [])
                ren(ef.configMapRef);
            for (const e of c.env || [])
                ren(e.valueFrom?.configMapKeyRef);
        }
        for (const v of spec.volumes || []) {
            ren(v.configMap);
            for (const s of v.projected?.sources || [])
                ren(s.configMap);
        }
    }
}

function orderKey(o) {
    const i = ORDER_FIRST.indexOf(o.kind);
    const j = ORDER_LAST.indexOf(o.kind);
    const rank = i >= 0 ? i : j >= 0 ? 1000 + j : 500;
    return [rank, rank === 500 ? `${o.apiVersion}|${o.kind}` : "", o.metadata.namespace || "",
        o.metadata.name];
}

/** Renders the kustomization in dir: returns the list of objects, in kustomize's order. */
export function render(dir) {
    const resources = build(dir, [], "Kustomization");
    const renames = {};
    for (const o of resources) {
        if (o.kind === "ConfigMap" && o.__generated?.hash) {
            const old = o.metadata.name;
            o.metadata.name = `${old}-${configMapHash(o)}`;
            renames[old] = o.metadata.name;
        }
    }
    for (const o of resources)
        renameConfigMapRefs(o, renames);
    return resources.map((o) => ({ o, key: orderKey(o) }))
        .sort((a, b) => {
            for (let i = 0; i < a.key.length; i++) {
                if (a.key[i] < b.key[i])
                    return -1;
                if (a.key[i] > b.key[i])
                    return 1;
            }
            return 0;
        })
        .map((x) => x.o);
}

/** The objects as one multi-document YAML text. */
export function toYaml(objects) {
    return objects.map((o) => YAML.stringify(o, { lineWidth: 0 })).join("---\n");
}
