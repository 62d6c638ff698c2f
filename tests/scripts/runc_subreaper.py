#!/usr/bin/env python3
"""A child subreaper, as conmon and containerd-shim-runc-v2 are: runs
`gvisor create` (container stdio into OUT), checks the pid in the pid file
became its own child once create exited, runs each step (from other
processes), then waitpid()s that pid and prints how it ended.

usage: runc_subreaper.py GVISOR ROOT BUNDLE ID OUT STEPS_JSON
STEPS_JSON: a list of argument lists for `gvisor --root ROOT ...`; an
argument list whose first item is "exec-d" runs `exec -d --pid-file F`
with the rest and waits for that pid too.
"""
import ctypes
import json
import os
import subprocess
import sys

G, root, bundle, cid, out = sys.argv[1:6]
steps = json.loads(sys.argv[6])
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    print("prctl failed")
    sys.exit(1)


def how(st):
    if os.WIFEXITED(st):
        return "exited %d" % os.WEXITSTATUS(st)
    return "signaled %d" % os.WTERMSIG(st)


pidfile = out + ".pid"
with open(out, "wb") as f:
    r = subprocess.run(
        [G, "--root", root, "--network", "none", "create", "--bundle", bundle,
         "--pid-file", pidfile, cid],
        stdin=subprocess.DEVNULL, stdout=f, stderr=f)
print("create", r.returncode, flush=True)
if r.returncode != 0:
    sys.exit(0)
pid = int(open(pidfile).read())
with open("/proc/%d/stat" % pid) as s:
    ppid = int(s.read().rsplit(")", 1)[1].split()[1])
print("reparented", ppid == os.getpid(), flush=True)
for s in steps:
    if s[0] == "exec-d":
        epid = out + ".exec.pid"
        r = subprocess.run([G, "--root", root, "exec", "-d", "--pid-file", epid] + s[1:],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        print("exec-d", r.returncode, flush=True)
        if r.returncode == 0:
            e = int(open(epid).read())
            _, st = os.waitpid(e, 0)
            print("exec-waiter", how(st), flush=True)
        continue
    if s[0] == "exec-d-term":
        # A detached exec that traps SIGTERM: the signal sent to the
        # waiter must reach it (it then exits 4).
        epid = out + ".term.pid"
        prog = 'trap "exit 4" TERM; : > /tmp/ready; while true; do sleep 0.1; done'
        r = subprocess.run([G, "--root", root, "exec", "-d", "--pid-file", epid, s[1],
                            "sh", "-c", prog],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        print("exec-d-term", r.returncode, flush=True)
        for _ in range(3000):
            q = subprocess.run([G, "--root", root, "exec", s[1], "sh", "-c",
                                "test -e /tmp/ready"], stdin=subprocess.DEVNULL)
            if q.returncode == 0:
                break
        e = int(open(epid).read())
        os.kill(e, 15)
        _, st = os.waitpid(e, 0)
        print("term-waiter", how(st), flush=True)
        continue
    r = subprocess.run([G, "--root", root] + s, capture_output=True)
    print("step", s[0], r.returncode, r.stderr.decode().strip(), flush=True)
_, st = os.waitpid(pid, 0)
print("container", how(st), flush=True)
