#!/usr/bin/env python3
"""tests/structure/calls.py: no two files of a program (or of the library) call
each other's functions in a loop, directly or through others.

A file calls another when its code (comments left out) names a function that the
other defines without `static`. The programs meet only in etcd and the library is
below them all, so each directory is checked on its own. Prints every loop found
and exits 1 if there is one. Text-level on purpose: it needs no compiler database,
and a false loop (a name in a string) is cheap to read and rename."""
import glob
import os
import re
import sys

DEFINITION = re.compile(r'^(?!static)[a-z_][\w \*]*?\b([a-z_]\w*)\s*\([^;{]*\)\s*\{', re.M)
COMMENT = re.compile(r'/\*.*?\*/', re.S)


def calls_of(files):
    defined = {f: set(DEFINITION.findall(open(f).read())) for f in files}
    calls = {}
    for f in files:
        code = COMMENT.sub('', open(f).read())
        calls[f] = {g for g in files if g != f and
                    any(re.search(r'\b' + re.escape(fn) + r'\s*\(', code) for fn in defined[g])}
    return calls


def loops_of(calls):
    found, state = [], {}

    def visit(f, path):
        state[f] = 'open'
        path.append(f)
        for g in sorted(calls[f]):
            if state.get(g) == 'open':
                found.append(path[path.index(g):] + [g])
            elif g not in state:
                visit(g, path)
        path.pop()
        state[f] = 'done'

    for f in sorted(calls):
        if f not in state:
            visit(f, [])
    return found


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
    bad = 0
    for d in ['lib'] + sorted(glob.glob(os.path.join(root, 'src', '*', ''))):
        d = os.path.join(root, d) if d == 'lib' else d
        files = sorted(glob.glob(os.path.join(d, '*.c')))
        for loop in loops_of(calls_of(files)):
            print('loop in %s: %s' % (os.path.relpath(d, root),
                                      ' -> '.join(os.path.basename(f) for f in loop)))
            bad = 1
    return bad


if __name__ == '__main__':
    sys.exit(main())
