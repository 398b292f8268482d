#!/usr/bin/env python3
"""The architecture check behind tests/lint/layers.sh: who may include what, private headers
stay in their unit, and no cycles between files. It reads the sources' #include "..." lines
(and, when given a build directory, the symbols of its object files); it compiles nothing.

  layers.py --root DIR [--build DIR] < tracked-files      exit 0: clean, 1: violations

The files to check are read from stdin, one path a line relative to --root (git ls-files);
paths outside common/, scheduler/, worker/, sandbox/, sink/ and cmd/ are ignored.
"""
import argparse
import os
import re
import shutil
import sys

from layers_graph import cycles, source_graph, symbol_graph

# Who may include whom: ONE table. A unit may include its own headers and the public headers
# of the units listed here, nothing else. The build enforces the same thing (a layer's static
# library links only the layers below, and a header of a layer it does not link is not on its
# include path), so check_cmake_links() requires this table to equal the target_link_libraries
# of common/CMakeLists.txt (wdts_layer(NAME LINKS...)) and of each module's CMakeLists.txt.
# Modules never include each other. A program (cmd/<prog>) is wiring: it may include any
# module and any layer (its own CMakeLists.txt decides what it links). What it may reach
# inside a module is limited by the private-header rule, not by a list of headers here: a
# module's *_int.h, and once a module has an include/ folder every header outside it, is
# private. So wdtctl's use of scheduler and worker headers passes today, and narrows by
# itself as those modules mark what is private.
LAYERS = ['base', 'obs', 'redis', 'kafka', 'wdtapi', 'model', 'config']
MODULES = ['scheduler', 'worker', 'sandbox', 'sink']
ALLOWED = {
    'base': [],
    'obs': ['base'],
    'redis': ['base'],
    'kafka': ['base'],
    'wdtapi': ['base'],
    'model': ['wdtapi', 'redis', 'base'],
    'config': ['model', 'redis', 'base'],
    'scheduler': ['config', 'model', 'kafka', 'redis', 'obs', 'base'],
    'worker': ['config', 'model', 'wdtapi', 'kafka', 'redis', 'obs', 'base'],
    'sandbox': ['config', 'model', 'wdtapi', 'base'],
    'sink': ['model', 'kafka', 'obs', 'base'],
    'cmd': MODULES + LAYERS,
}

CHECKED_DIRS = ('common/', 'cmd/') + tuple(m + '/' for m in MODULES)
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def unit_of(path):
    """The unit a file belongs to: a layer name, a module name or cmd/<prog>; None if none."""
    parts = path.split('/')
    if parts[0] == 'common' and len(parts) > 2 and parts[1] in LAYERS:
        return parts[1]
    if parts[0] in MODULES and len(parts) > 1:
        return parts[0]
    if parts[0] == 'cmd' and len(parts) > 2:
        return 'cmd/' + parts[1]
    return None


def kind_of(unit):
    """The row of ALLOWED that governs a unit."""
    return 'cmd' if unit.startswith('cmd/') else unit


def unit_dir(unit):
    return 'common/' + unit if unit in LAYERS else unit


def is_private(path, unit, has_include_dir):
    """*_int.h is private to its unit; so is any header of a unit with an include/ folder
    (every common layer) that is not under that folder."""
    if path.endswith('_int.h'):
        return True
    return has_include_dir.get(unit, False) and not path.startswith(unit_dir(unit) + '/include/')


class Tree:
    """The checked files, their includes resolved to files, and their units."""

    def __init__(self, root, files):
        self.root = root
        self.files = sorted(f for f in files if f.startswith(CHECKED_DIRS) and unit_of(f)
                            and f.endswith(('.c', '.h')))
        self.headers = {f for f in self.files if f.endswith('.h')}
        self.has_include_dir = {}
        roots = set()
        for h in self.headers:
            u = unit_of(h)
            d = unit_dir(u) + '/include/'
            if h.startswith(d):
                self.has_include_dir[u] = True
                roots.add(d)
            roots.add(os.path.dirname(h) + '/')
        self.include_roots = sorted(roots)
        self.includes = {f: self._read_includes(f) for f in self.files}

    def _read_includes(self, path):
        """[(line, text, resolved file or None)] of a file's #include "..." lines."""
        out = []
        with open(os.path.join(self.root, path), encoding='utf-8', errors='replace') as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE_RE.match(line)
                if m:
                    out.append((n, m.group(1), self.resolve(path, m.group(1))))
        return out

    def resolve(self, includer, name):
        """The file "name" means from includer: its own folder first (as the compiler does),
        then any include root (a layer's include/, a module's or a program's folder)."""
        own = os.path.normpath(os.path.join(os.path.dirname(includer), name))
        if own in self.headers:
            return own
        for r in self.include_roots:
            if r + name in self.headers:
                return r + name
        return None


def check_edges(tree):
    """Layer order, module isolation and private headers: one message per bad #include."""
    errors = []
    for f in tree.files:
        unit = unit_of(f)
        allowed = ALLOWED.get(kind_of(unit), [])
        for line, name, target in tree.includes[f]:
            if target is None:
                errors.append('%s:%d: includes "%s", which is no tracked header the check can '
                              'place; fix: include it by the path the build uses ("wdts/x.h", '
                              'or a header of its own folder)' % (f, line, name))
                continue
            tunit = unit_of(target)
            if tunit == unit:
                continue
            where = '%s:%d: includes "%s"' % (f, line, name)
            if is_private(target, tunit, tree.has_include_dir):
                errors.append('%s (%s, private to %s): a private header is for its own unit '
                              'only (%s -> %s); fix: use (or add to) a public header of %s'
                              % (where, target, tunit, unit, tunit, tunit))
            elif kind_of(unit) in MODULES and tunit in MODULES:
                errors.append('%s (%s): a module never includes another module (%s -> %s); '
                              'fix: move the shared code into a common layer both link, or '
                              'wire the two together in cmd/' % (where, tunit, unit, tunit))
            elif kind_of(tunit) not in allowed:
                may = ' '.join([unit] + allowed)
                errors.append('%s (%s): %s may include only %s; fix: move the code that needs '
                              'it up to a unit allowed to use %s, or move what it uses down '
                              '(common/README.md)' % (where, tunit, unit, may, tunit))
    return errors


def check_include_cycles(tree):
    graph = {f: {t for _, _, t in tree.includes[f] if t} for f in tree.files}
    return ['include cycle: %s; fix: forward-declare the struct (struct x;) instead of '
            'including its header, or move the shared part into a header of its own'
            % ' <-> '.join(sorted(c)) for c in cycles(graph)]


def check_cycles(graph, what, fix):
    """One error per cycle of .c files (no cycle is allowed)."""
    return ['%s cycle: %s; fix: %s' % (what, ' <-> '.join(sorted(c)), fix) for c in cycles(graph)]


def check_cmake_links(root):
    """The table must equal what the CMakeLists.txt files link (the build-side enforcement)."""
    errors = []
    links = {}
    path = os.path.join(root, 'common/CMakeLists.txt')
    if os.path.exists(path):
        with open(path, encoding='utf-8') as fh:
            for m in re.finditer(r'^\s*wdts_layer\(\s*(\w+)([^)]*)\)', fh.read(), re.M):
                links[m.group(1)] = ('common/CMakeLists.txt', m.group(2))
    for mod in MODULES:
        rel = mod + '/CMakeLists.txt'
        if not os.path.exists(os.path.join(root, rel)):
            continue
        with open(os.path.join(root, rel), encoding='utf-8') as fh:
            pat = r'target_link_libraries\(\s*wdts%s\s+([^)]*)\)' % mod
            args = ' '.join(re.findall(pat, fh.read()))
        links[mod] = (rel, args)
    for unit, allowed in ALLOWED.items():
        if unit == 'cmd':
            continue
        if unit not in links:
            errors.append('%s: no link line found for %s in its CMakeLists.txt; fix: update '
                          'check_cmake_links() in tests/lint/layers.py' % (unit, unit))
            continue
        rel, args = links[unit]
        linked = {a[len('wdts_'):] if a.startswith('wdts_') else a[len('wdts'):]
                  for a in args.split() if re.match(r'wdts_?\w+$', a)}
        if linked != set(allowed):
            errors.append('%s: %s links {%s} but the table in tests/lint/layers.py allows '
                          '{%s}; fix: make the two agree' % (rel, unit, ' '.join(sorted(linked)),
                                                             ' '.join(sorted(allowed))))
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', required=True)
    ap.add_argument('--build', help='a build directory: also check symbol-level cycles')
    args = ap.parse_args()
    tree = Tree(args.root, [line.strip() for line in sys.stdin if line.strip()])

    errors = check_edges(tree) + check_include_cycles(tree) + check_cmake_links(args.root)
    notes = []
    fix = ('move what both use into a file of its own that calls neither, or let the lower '
           'one take a callback instead of calling up')
    errors += check_cycles(source_graph(tree.root, tree.files, tree.includes), 'file', fix)
    if args.build and not shutil.which('nm'):
        notes.append('symbol check: skipped (no nm)')
    elif args.build:
        graph, note = symbol_graph(args.root, args.build, set(tree.files))
        notes.append('symbol check: ' + note)
        errors += check_cycles(graph, 'symbol', fix)
    else:
        notes.append('symbol check: skipped (no build directory)')

    for n in notes:
        print(n)
    for e in errors:
        print('error: ' + e)
    print('%d files, %d #include lines checked: %s'
          % (len(tree.files), sum(len(v) for v in tree.includes.values()),
             '%d errors' % len(errors) if errors else 'layers and cycles clean'))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
