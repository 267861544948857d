#!/usr/bin/env python3
# set_alloc.py WEIGHT ALLOC < graph.mlir > graph.mlir - gives one mixed
# weight of a tensor-level Llama graph (`mixq compile --emit=mlir`) another
# tile-group allocation, e.g. `layers.1.attention.wq.weight "2, 1, 1"`: the
# `alloc = [...]` of its layout is replaced on the lines that define or use
# its value, in every function. The lowering reads no weight data, so the
# result lowers like a package whose layers allocate differently.
import re
import sys

name, alloc = sys.argv[1], sys.argv[2]
out = []
value = None
for line in sys.stdin:
    if "func.func" in line:
        value = None  # SSA names are per function
    m = re.match(r'\s*(%\w+) = mixq\.weight "([^"]+)"', line)
    if m:
        value = m.group(1) if m.group(2) == name else value
        if m.group(2) != name:
            out.append(line)
            continue
    if value and re.search(re.escape(value) + r'\b', line):
        line = re.sub(r'alloc = \[[0-9, ]*\]', 'alloc = [%s]' % alloc, line)
    out.append(line)
sys.stdout.write("".join(out))
