"""The graphs tests/lint/layers.py looks for cycles in: strongly connected components, the
.c files that call each other through headers (read from the sources), and the .c files whose
objects use each other's symbols (nm on a build). Pure reading: nothing is compiled.
"""
import os
import re
import subprocess


def strongly_connected(graph):
    """Tarjan's strongly connected components of {node: set(nodes)}, iteratively."""
    index, low, on_stack, stack, comps = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.add(n)
                    if n == node:
                        break
                comps.append(comp)
    return comps


def cycles(graph):
    """Components of more than one node, plus nodes with an edge to themselves."""
    return [c for c in strongly_connected(graph)
            if len(c) > 1 or next(iter(c)) in graph.get(next(iter(c)), ())]


# Declarations and definitions, read from the sources with comments, strings and preprocessor
# lines removed: a top-level "name(" ending in ';' declares, one ending in '{' defines.
COMMENT_STRING_RE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|'
                               r"'(?:\\.|[^'\\\n])*'", re.S)
PREPROCESSOR_RE = re.compile(r'^[ \t]*#(?:[^\n]*\\\n)*[^\n]*', re.M)


def strip(text):
    """The code of a source file: comments, strings and preprocessor lines blanked."""
    return PREPROCESSOR_RE.sub(' ', COMMENT_STRING_RE.sub(' ', text))


BRACE_SEMI_RE = re.compile(r'[{};]')
CALL_RE = re.compile(r'\b([A-Za-z_]\w*)\s*\(')
NOT_FUNCTIONS = {'sizeof', '__attribute__', 'typeof', '__typeof__', 'alignof', '_Alignof',
                 '_Static_assert', 'static_assert', 'defined'}


def top_level_functions(code):
    """{name: 'decl' or 'def'} of the non-static functions declared or defined at file scope
    of code (a source file after strip())."""
    out = {}
    depth = 0
    stmt_start = 0
    for m in BRACE_SEMI_RE.finditer(code):
        ch, i = m.group(), m.start()
        if ch == '{':
            if depth == 0:
                note_statement(code[stmt_start:i], 'def', out)
            depth += 1
        elif ch == '}':
            depth -= 1
            if depth == 0:
                stmt_start = i + 1
        elif depth == 0:
            note_statement(code[stmt_start:i], 'decl', out)
            stmt_start = i + 1
    return out


def note_statement(stmt, what, out):
    words = stmt.split()
    if not words or words[0] in ('static', 'typedef') or 'static' in words[:3]:
        return
    for m in CALL_RE.finditer(stmt):
        name = m.group(1)
        if name in NOT_FUNCTIONS or name.isupper():
            continue
        # A function's name is followed by its parameter list; "(*name)" is a pointer.
        if stmt[:m.start()].rstrip().endswith('('):
            return
        out.setdefault(name, what)
        return


def source_graph(root, files, includes):
    """X.c -> Y.c when X.c includes (directly or through other headers) a header declaring a
    function that Y.c defines and X.c calls: Y.h for Y.c, or a header several .c files share
    (wrk_int.h); a shared header alone does not tie the files that only implement it."""
    defined_in, declared, used = {}, {}, {}
    for f in files:
        with open(os.path.join(root, f), encoding='utf-8', errors='replace') as fh:
            code = strip(fh.read())
        funcs = top_level_functions(code)
        if f.endswith('.c'):
            used[f] = set(re.findall(r'\w+', code))
            for name, what in funcs.items():
                if what == 'def':
                    defined_in.setdefault(name, set()).add(f)
        else:
            declared[f] = set(funcs)
    graph = {}
    for f, words in used.items():
        seen, todo = set(), [t for _, _, t in includes[f] if t]
        while todo:
            h = todo.pop()
            if h not in seen:
                seen.add(h)
                todo.extend(t for _, _, t in includes[h] if t)
        names = set().union(*[declared.get(h, set()) for h in seen]) & words
        graph[f] = set().union(*[defined_in.get(n, set()) for n in names]) - {f}
    return graph


OBJ_RE = re.compile(r'^(.*)/CMakeFiles/[^/]+\.dir/(.+)\.o$')


def symbol_graph(root, build, files):
    """X.c -> Y.c when X.o uses a symbol Y.o defines (nm on the build's object files). Objects
    older than their source are skipped: they may not match it. Returns (graph, note)."""
    objects = {}
    stale = 0
    for d, _, names in os.walk(build):
        for n in names:
            p = os.path.join(d, n)
            m = OBJ_RE.match(os.path.relpath(p, build))
            if not m:
                continue
            src = os.path.normpath(os.path.join(m.group(1), m.group(2)))
            if src not in files:
                continue
            if os.path.getmtime(p) < os.path.getmtime(os.path.join(root, src)):
                stale += 1
                continue
            objects[p] = src
    if not objects:
        return {}, 'no object files of the checked sources in %s' % build
    out = subprocess.run(['nm', '-A', '-P'] + sorted(objects), capture_output=True, text=True,
                         check=True).stdout
    defines, uses = {}, {}
    for line in out.splitlines():
        # "path.o: symbol TYPE [value size]"
        obj, _, rest = line.partition(': ')
        fields = rest.split()
        if len(fields) < 2 or obj not in objects:
            continue
        sym, typ = fields[0], fields[1]
        if typ == 'U':
            uses.setdefault(objects[obj], set()).add(sym)
        elif typ.isupper() and typ not in 'NVW':
            defines.setdefault(sym, set()).add(objects[obj])
    graph = {src: set().union(*[defines.get(s, set()) for s in syms]) - {src}
             for src, syms in uses.items()}
    note = '%d object files of %s' % (len(objects), build)
    if stale:
        note += ' (%d older than their source skipped: rebuild to check them)' % stale
    return graph, note
