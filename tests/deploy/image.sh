#!/usr/bin/env bash
# The container image, checked without a container engine: deploy/docker/Dockerfile passes
# dockerfilelint (and a broken fixture does not); the build stage installs every library
# -dev package of deploy/local/packages.txt; its install step (cmake --install --strip)
# puts every cmd/<program> in bin/, and the image's (--component runtime) all but the test
# tools wdt-sandbox and wdt-localkafka; .dockerignore keeps build outputs and .demo/ out; and every shared library that the built
# programs (build/bin/*) load, per ldd, belongs to a package that the runtime stage
# installs, directly (the libraries the programs name) or as a dependency, or to the base
# image's essential packages allowed below.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$WDTS_SOURCE_DIR"
bin_dir=${WDTS_BIN_DIR:-$WDTS_SOURCE_DIR/build/bin}
dockerfile=${WDTS_DOCKERFILE:-deploy/docker/Dockerfile}
# Part of debian:bookworm-slim itself (Essential / Priority required), not installed by us.
base_pkgs=(libc6 libgcc-s1 libstdc++6 zlib1g)

deploy_npm_ci

if [[ -z "${WDTS_DOCKERFILE:-}" ]]; then
echo "== dockerfilelint"
node deploy/validate/node_modules/dockerfilelint/bin/dockerfilelint "$dockerfile" ||
    deploy_fail "dockerfilelint found problems in $dockerfile"
if node deploy/validate/node_modules/dockerfilelint/bin/dockerfilelint \
    tests/deploy/fixtures/Dockerfile.bad >/dev/null; then
    deploy_fail "dockerfilelint passed tests/deploy/fixtures/Dockerfile.bad, broken on purpose"
fi
echo "caught: tests/deploy/fixtures/Dockerfile.bad"
fi

# Prints the packages that `apt-get install` lines of stage $1 of the Dockerfile install.
stage_packages() {
    awk -v stage="$1" '
        { line = $0; sub(/#.*/, "", line) }
        /^FROM / { in_stage = (tolower($NF) == stage); next }
        in_stage { buf = buf " " line; if (line ~ /\\[[:space:]]*$/) next;
                   n = split(buf, w, /[[:space:]\\]+/); take = 0
                   for (i = 1; i <= n; i++) {
                       if (w[i] == "install") { take = 1; continue }
                       if (w[i] == "&&") take = 0
                       if (take && w[i] != "" && w[i] !~ /^-/) print w[i]
                   }
                   buf = "" }
    ' "$dockerfile" | sort -u
}
mapfile -t runtime_pkgs < <(stage_packages runtime)
mapfile -t build_pkgs < <(stage_packages build)
[[ ${#runtime_pkgs[@]} -gt 0 ]] || deploy_fail "no apt-get install found in the runtime stage"
echo "runtime stage installs: ${runtime_pkgs[*]}"

echo "== build stage has the -dev packages of deploy/local/packages.txt"
while read -r pkg; do
    # test-only libraries: cmocka (unit tests), clang's runtime (the fuzz targets)
    [[ "$pkg" == lib*-dev && "$pkg" != libcmocka-dev && "$pkg" != libclang-rt-*-dev ]] ||
        continue
    printf '%s\n' "${build_pkgs[@]}" | grep -qx "$pkg" ||
        deploy_fail "the build stage of $dockerfile does not install $pkg"
done < <(grep -v '^#' deploy/local/packages.txt)

echo "== the build stage's install step puts every program in bin/"
build_dir=$(dirname "$bin_dir")
if [[ -n "${WDTS_DOCKERFILE:-}" ]]; then
    echo "(skipped while checking another Dockerfile)"
elif [[ -f "$build_dir/cmake_install.cmake" ]]; then
    prefix=$(mktemp -d /tmp/wdts-install.XXXXXX)
    cmake --install "$build_dir" --prefix "$prefix" --strip >/dev/null ||
        { rm -rf "$prefix"; deploy_fail "cmake --install $build_dir failed"; }
    for d in cmd/*/; do
        prog=$(basename "$d")
        [[ -x "$prefix/bin/$prog" ]] || { rm -rf "$prefix"; deploy_fail "$prog is not installed to bin/"; }
    done
    echo "installed: $(cd "$prefix/bin" && echo *)"
    rm -rf "$prefix"
    # The image installs component "runtime": the programs without the test tools.
    grep -q -- '--component runtime' "$dockerfile" ||
        deploy_fail "the build stage of $dockerfile must install only --component runtime"
    prefix=$(mktemp -d /tmp/wdts-install.XXXXXX)
    cmake --install "$build_dir" --prefix "$prefix" --strip --component runtime >/dev/null ||
        { rm -rf "$prefix"; deploy_fail "cmake --install --component runtime failed"; }
    for d in cmd/*/; do
        prog=$(basename "$d")
        case "$prog" in
        wdt-sandbox | wdt-localkafka)
            [[ ! -e "$prefix/bin/$prog" ]] ||
                { rm -rf "$prefix"; deploy_fail "$prog (a test tool) is in component runtime"; } ;;
        *)
            [[ -x "$prefix/bin/$prog" ]] ||
                { rm -rf "$prefix"; deploy_fail "$prog is not in component runtime"; } ;;
        esac
    done
    echo "component runtime (the image): $(cd "$prefix/bin" && echo *)"
    rm -rf "$prefix"
else
    deploy_fail "$build_dir has no cmake_install.cmake: build with cmake first"
fi

echo "== .dockerignore keeps build outputs and the demo state out of the build context"
for pat in .git .demo 'build*/'; do
    grep -qxF -- "$pat" .dockerignore || deploy_fail ".dockerignore does not list $pat"
done

echo "== shared libraries of the programs"
mapfile -t progs < <(find "$bin_dir" -maxdepth 1 -type f -perm -u+x | sort)
[[ ${#progs[@]} -gt 0 ]] || deploy_fail "no programs in $bin_dir: build first"

# The closure of the runtime packages under Depends/Pre-Depends, from the installed dpkg
# database (this machine runs the same Debian release as the image).
closure=$(python3 - "${runtime_pkgs[@]}" "${base_pkgs[@]}" <<'PY'
import re, subprocess, sys
out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Depends}, ${Pre-Depends}\t${Provides}\n"],
                     capture_output=True, text=True, check=True).stdout
deps, provides = {}, {}
for line in out.splitlines():
    name, dep, prov = (line.split("\t") + ["", ""])[:3]
    deps[name] = [re.split(r"[\s:(]", alt.strip())[0] for d in dep.split(",") if d.strip()
                  for alt in d.split("|")[:1]]
    for p in prov.split(","):
        if p.strip():
            provides.setdefault(re.split(r"[\s(]", p.strip())[0], name)
todo, seen = list(sys.argv[1:]), set()
while todo:
    p = todo.pop()
    p = p if p in deps else provides.get(p, p)
    if p in seen:
        continue
    seen.add(p)
    if p not in deps:
        print(f"missing: {p} is not installed here, cannot follow its dependencies", file=sys.stderr)
        sys.exit(1)
    todo.extend(d for d in deps[p] if d)
print("\n".join(sorted(seen)))
PY
) || deploy_fail "cannot compute the runtime package closure"

declare -A owner_cache=()
# Sets OWNER to the package that owns library path $1 (follows usrmerge and symlinks);
# no subshell, so the cache of dpkg -S answers persists.
owner() {
    local p=$1 cand r
    if [[ -n "${owner_cache[$p]:-}" ]]; then
        OWNER=${owner_cache[$p]}
        return 0
    fi
    for cand in "$p" "$(readlink -f "$p")" "${p/#\/usr\/lib/\/lib}" "${p/#\/lib/\/usr\/lib}"; do
        r=$(dpkg -S "$cand" 2>/dev/null | head -1 | cut -d: -f1)
        if [[ -n "$r" ]]; then
            owner_cache[$p]=$r
            OWNER=$r
            return 0
        fi
    done
    return 1
}

bad=0 checked=0
for prog in "${progs[@]}"; do
    file "$prog" 2>/dev/null | grep -q ELF || head -c4 "$prog" | grep -q ELF || continue
    mapfile -t needed < <(readelf -d "$prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    while read -r lib path; do
        [[ -n "$path" ]] || continue
        owner "$path" || { echo "$prog: $lib ($path) belongs to no package"; bad=1; continue; }
        pkg=$OWNER
        pkg=${pkg%%,*}
        direct=0
        printf '%s\n' "${needed[@]}" | grep -qx "$lib" && direct=1
        if printf '%s\n' "${base_pkgs[@]}" | grep -qx "$pkg"; then
            how="base image"
        elif ((direct)) && printf '%s\n' "${runtime_pkgs[@]}" | grep -qx "$pkg"; then
            how="installed"
        elif ((!direct)) && grep -qx "$pkg" <<<"$closure"; then
            how="dependency"
        else
            echo "$(basename "$prog"): $lib from $pkg: not installed by the runtime stage"
            bad=1
            continue
        fi
        checked=$((checked + 1))
        printf '%-16s %-28s %-24s %s\n' "$(basename "$prog")" "$lib" "$pkg" "$how"
    done < <(ldd "$prog" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
done
((checked > 0)) || deploy_fail "no shared library checked"
((bad == 0)) || deploy_fail "the runtime stage misses packages (see above)"
echo "image: $checked libraries of ${#progs[@]} programs come from the runtime stage's packages"

# The check itself must fail when the runtime stage lacks a library the programs link.
if [[ -z "${WDTS_DOCKERFILE:-}" ]]; then
    tmp=$(mktemp /tmp/wdts-dockerfile.XXXXXX)
    trap 'rm -f "$tmp"' EXIT
    grep -v '^ *libjansson4 *\\$' "$dockerfile" >"$tmp"
    if WDTS_DOCKERFILE=$tmp bash "$0" >/dev/null 2>&1; then
        deploy_fail "a runtime stage without libjansson4 passed the library check"
    fi
    echo "caught: a runtime stage without libjansson4"
fi
