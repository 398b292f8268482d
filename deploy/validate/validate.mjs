// Validates Kubernetes manifests offline: every document of every file given (multi-document
// YAML) is checked against the schema of its kind (kubernetes-models for built-in kinds,
// @kubernetes-models/keda and /prometheus-operator for ScaledObject, TriggerAuthentication and
// ServiceMonitor), then for fields the schema does not know (a misspelled optional field
// passes a schema check, because the schemas allow extra properties).
//
//   node validate.mjs FILE...     prints one line per document, then a summary;
//                                 exit 0 when every document is valid, 1 otherwise, 64 on usage
//
// How unknown fields are found: the schema's compiled validator reads every property its
// schema defines. It is run once more on a Proxy of the document that records which keys
// were read; in an object whose schema has properties (the validator read at least one) and
// that is not a free-form map (the validator did not list its keys), a key never read is not
// in the schema. Objects under a free-form schema are not inspected.
import YAML from "yaml";
import { readFileSync } from "node:fs";

// API group -> npm package that has its models; built-in groups use kubernetes-models.
const PACKAGES = {
    "keda.sh": "@kubernetes-models/keda",
    "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

async function modelFor(apiVersion, kind) {
    if (typeof apiVersion !== "string" || typeof kind !== "string")
        return { error: "apiVersion and kind must be strings" };
    const slash = apiVersion.indexOf("/");
    const group = slash < 0 ? "" : apiVersion.slice(0, slash);
    const pkg = PACKAGES[group] || "kubernetes-models";
    if (!/^[A-Za-z0-9.]+(\/[A-Za-z0-9]+)?$/.test(apiVersion) || !/^[A-Za-z0-9]+$/.test(kind))
        return { error: `unknown apiVersion/kind ${apiVersion} ${kind}` };
    try {
        const mod = await import(`${pkg}/${apiVersion}/${kind}`);
        if (typeof mod[kind] !== "function")
            return { error: `no model for ${apiVersion} ${kind}` };
        return { Model: mod[kind] };
    } catch {
        return { error: `unknown kind ${kind} in ${apiVersion} (no schema in ${pkg}): check apiVersion and kind` };
    }
}

function errorLines(e) {
    if (Array.isArray(e.errors) && e.errors.length > 0) {
        return e.errors.map((x) => {
            const where = x.instancePath || "/";
            if (x.keyword === "required")
                return `${where}: must have required property ${x.params.missingProperty}`;
            return `${where}: ${x.message || x.keyword}${x.params && x.keyword === "type" ? ` (${x.params.type})` : ""}`;
        });
    }
    return String(e.message || e).split("\n");
}

/** Keys of doc that its schema does not define, as JSON pointers. */
export function unknownFields(Model, doc) {
    const records = [];
    const cache = new WeakMap();
    const wrap = (value, at) => {
        if (value === null || typeof value !== "object")
            return value;
        if (cache.has(value))
            return cache.get(value);
        const rec = { obj: value, at, read: new Set(), listed: false };
        records.push(rec);
        const proxy = new Proxy(value, {
            get(t, k, r) {
                const v = Reflect.get(t, k, r);
                if (typeof k !== "string")
                    return v;
                rec.read.add(k);
                return Object.hasOwn(t, k) ? wrap(v, `${at}/${k}`) : v;
            },
            has(t, k) {
                if (typeof k === "string")
                    rec.read.add(k);
                return Reflect.has(t, k);
            },
            ownKeys(t) {
                rec.listed = true;
                return Reflect.ownKeys(t);
            },
        });
        cache.set(value, proxy);
        return proxy;
    };
    try {
        Model.prototype.validate.call(wrap(doc, ""));
    } catch {
        // Schema errors are reported by the plain validation.
    }
    const unknown = [];
    for (const rec of records) {
        if (Array.isArray(rec.obj) || rec.listed || rec.read.size === 0)
            continue;
        for (const k of Object.keys(rec.obj))
            if (!rec.read.has(k))
                unknown.push(`${rec.at}/${k}`);
    }
    return unknown;
}

/** Checks one document; returns a list of problems (empty when valid). */
export async function checkDocument(doc) {
    if (doc === null || typeof doc !== "object" || Array.isArray(doc))
        return ["not a YAML map"];
    const { Model, error } = await modelFor(doc.apiVersion, doc.kind);
    if (error)
        return [error];
    const problems = [];
    try {
        new Model(doc).validate();
    } catch (e) {
        problems.push(...errorLines(e));
    }
    for (const f of unknownFields(Model, doc))
        problems.push(`${f}: unknown field (not in the ${doc.kind} schema): misspelled?`);
    return problems;
}

async function main(files) {
    let passed = 0;
    let failed = 0;
    for (const file of files) {
        let docs;
        try {
            docs = YAML.parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1" });
        } catch (e) {
            console.log(`INVALID ${file}: ${e.message}`);
            failed++;
            continue;
        }
        let n = 0;
        for (const d of docs) {
            n++;
            const label = `${file}#${n}`;
            if (d.errors.length > 0) {
                console.log(`INVALID ${label}: YAML error: ${d.errors[0].message.split("\n")[0]}`);
                failed++;
                continue;
            }
            const doc = d.toJS();
            if (doc === null || doc === undefined)
                continue;
            const name = `${doc.kind}/${doc.metadata?.name}`;
            const problems = await checkDocument(doc);
            if (problems.length === 0) {
                console.log(`OK      ${label} ${name}`);
                passed++;
            } else {
                console.log(`INVALID ${label} ${name}`);
                for (const p of problems.slice(0, 10))
                    console.log(`        ${p}`);
                failed++;
            }
        }
    }
    console.log(`validate: ${passed} valid, ${failed} invalid`);
    return failed === 0 && passed > 0 ? 0 : 1;
}

const files = process.argv.slice(2);
if (files.length === 0 || files[0].startsWith("-")) {
    process.stderr.write("usage: node validate.mjs FILE...\n");
    process.exit(64);
}
process.exitCode = await main(files);
