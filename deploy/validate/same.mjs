// Compares two rendered manifest files as sets of objects (kind, namespace, name -> content):
//   node same.mjs A.yaml B.yaml    exit 0 when equal, 1 with the differences listed.
// tests/deploy/manifests.sh uses it to hold kustomize.mjs to `kubectl kustomize`.
import { isDeepStrictEqual } from "node:util";
import { parseYamlFile } from "./kustomize.mjs";

function load(file) {
    const m = new Map();
    for (const o of parseYamlFile(file))
        m.set(`${o.kind} ${o.metadata?.namespace || "-"} ${o.metadata?.name}`, o);
    return m;
}

const [a, b] = process.argv.slice(2);
if (!a || !b) {
    process.stderr.write("usage: node same.mjs A.yaml B.yaml\n");
    process.exit(64);
}
const ma = load(a);
const mb = load(b);
let diff = 0;
for (const k of new Set([...ma.keys(), ...mb.keys()])) {
    if (!ma.has(k) || !mb.has(k)) {
        console.log(`only in ${ma.has(k) ? a : b}: ${k}`);
        diff++;
    } else if (!isDeepStrictEqual(ma.get(k), mb.get(k))) {
        console.log(`differs: ${k}\n  ${JSON.stringify(ma.get(k))}\n  ${JSON.stringify(mb.get(k))}`);
        diff++;
    }
}
console.log(diff === 0 ? `same: ${ma.size} objects` : `${diff} objects differ`);
process.exit(diff === 0 ? 0 : 1);
