#!/usr/bin/env python3
"""tests/structure/defaults.py: the README's conductor flag table gives the
defaults the conductor's --help gives (the table once said the lease TTL was
10 s while the code used 5). Prints each mismatch; exits 1 if there is one."""
import re
import sys

help_src = open("src/conductor/main.c").read()
usage = help_src[help_src.index("static void conductor_usage"):]
usage = usage[:usage.index("out);")]
text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', usage)).replace("\\n", "\n")
# one option per "  --name ..." block, continuation lines included
blocks = re.split(r"\n  (?=--)", text)
helpdef = {}
for b in blocks:
    m = re.match(r"--([a-z-]+)", b)
    d = re.search(r"\(default:? ([^)]*)\)", " ".join(b.split()))
    if m and d:
        helpdef[m.group(1)] = d.group(1)

readme = open("README.md").read()
bad = []
for row in re.findall(r"^\| (`--[^|]*)\|[^|]*\| ([^|]*) \|$", readme, re.M):
    flags = re.findall(r"`--([a-z-]+)", row[0])
    values = [v.strip() for v in row[1].split(",")]
    if len(flags) != len(values) or not all(f in helpdef for f in flags):
        continue  # a row whose default is prose (the hostname, an environment variable)
    for f, v in zip(flags, values):
        if not re.fullmatch(r"[0-9-]+", v):
            continue
        if v != helpdef[f]:
            bad.append(f"--{f}: README says {v}, --help says {helpdef[f]}")
checked = [f for f in ("lease-ttl", "resync", "parallel", "link-ports") if f in helpdef]
if len(checked) < 4:
    bad.append(f"the help text's defaults were not found (found {sorted(helpdef)})")
print("\n".join(bad))
sys.exit(1 if bad else 0)
