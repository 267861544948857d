#!/usr/bin/env python3
# check_hostile.py - every hostile file is refused cleanly by every command.
#
#   python3 check_hostile.py OUTDIR --mixq PATH [--jobs N]
#
# For each case of OUTDIR/cases.txt (make_hostile.py) runs
#   mixq inspect CASE
#   mixq ppl --model CASE --text TEXT --ctx 8
#   mixq run MODULE --package CASE --prompt "the" -n 4
# (MODULE: OUTDIR/good/rtn.mixq compiled here) and requires of each: an exit
# code from 1 to 127 (an error, not a signal: a shell reports death by
# signal N as 128 + N, Python as -N), and a stderr of exactly one line that
# names the case (or, for a llama2.c case, a file of its directory) and
# gives a reason. Prints every violation and exits 1 if there is one.
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def check(cmd, named):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    err = p.stderr.decode("utf-8", "replace")
    lines = err.rstrip("\n").split("\n") if err.strip() else []
    problems = []
    if not 1 <= p.returncode <= 127:
        problems.append("exit code %d" % p.returncode)
    if len(lines) != 1:
        problems.append("%d lines on stderr" % len(lines))
    elif named not in lines[0]:
        problems.append("the message does not name the file")
    else:
        # What is left without "mixq: error:" and the paths is the reason.
        reason = lines[0].replace("mixq: error:", "")
        for path in cmd[1:]:
            reason = reason.replace(path, "")
        if sum(c.isalpha() for c in reason) < 10:
            problems.append("the message gives no reason")
    if problems:
        return "%s\n    %s\n    %s" % (" ".join(cmd), "; ".join(problems),
                                       err.strip().replace("\n", "\n    "))
    return None


def main():
    outdir = sys.argv[1]
    mixq = sys.argv[sys.argv.index("--mixq") + 1]
    jobs = int(sys.argv[sys.argv.index("--jobs") + 1]) \
        if "--jobs" in sys.argv else 2
    good = os.path.join(outdir, "good")
    module = os.path.join(good, "rtn.so")
    subprocess.run([mixq, "compile", os.path.join(good, "rtn.mixq"), "-o",
                    module], check=True)
    text = os.path.join(good, "text.txt")
    with open(text, "w") as f:
        f.write("the cat sat on the mat and then the hat sat on the cat\n" * 4)
    cases = [line.split("\t") for line in
             open(os.path.join(outdir, "cases.txt")).read().splitlines()
             if line]
    commands = []
    for case, named in cases:
        commands.append(([mixq, "inspect", case], named))
        commands.append(([mixq, "ppl", "--model", case, "--text", text,
                          "--ctx", "8", "--threads", "1"], named))
        commands.append(([mixq, "run", module, "--package", case, "--prompt",
                          "the", "-n", "4", "--threads", "1"], named))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        failures = [f for f in pool.map(lambda c: check(*c), commands) if f]
    for f in failures:
        print("FAIL: " + f)
    print("%d hostile cases, %d commands, %d failures" %
          (len(cases), len(commands), len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
