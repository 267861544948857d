#!/usr/bin/env python3
# Prints the PTX of every gpu.binary object in an MLIR file (the output of
# gpu-module-to-binary{format=isa}): the `assembly = "..."` string attribute
# unescaped (MLIR escapes bytes as \XX in hex, plus \\ and \").
import re
import sys

text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
found = False
for m in re.finditer(r'assembly = "((?:[^"\\]|\\.)*)"', text):
    found = True
    s = m.group(1)
    out = bytearray()
    i = 0
    while i < len(s):
        if s[i] == "\\":
            if s[i + 1] in '\\"':
                out.append(ord(s[i + 1]))
                i += 2
            else:
                out.append(int(s[i + 1:i + 3], 16))
                i += 3
        else:
            out.extend(s[i].encode())
            i += 1
    sys.stdout.write(out.decode().rstrip("\0"))
if not found:
    sys.exit("extract_ptx.py: no gpu.binary assembly in the input")
