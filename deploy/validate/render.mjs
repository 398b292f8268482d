// Renders a kustomization directory to multi-document YAML on stdout, offline, with the
// kustomize subset of kustomize.mjs:  node deploy/validate/render.mjs deploy/k8s/overlays/prod
import { KustomizeError, render, toYaml } from "./kustomize.mjs";

const dirs = process.argv.slice(2);
if (dirs.length !== 1 || dirs[0].startsWith("-")) {
    process.stderr.write("usage: node render.mjs KUSTOMIZATION_DIR\n");
    process.exit(64);
}
try {
    process.stdout.write(toYaml(render(dirs[0])));
} catch (e) {
    if (!(e instanceof KustomizeError))
        throw e;
    process.stderr.write(`render: ${e.message}\n`);
    process.exit(1);
}
