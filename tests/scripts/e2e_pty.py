"""Runs a command on a new pseudo-terminal, as a user at a terminal would.

    python3 e2e_pty.py [--expect TEXT --send TEXT]... -- COMMAND [ARGS...]

Each --expect/--send pair waits until TEXT has appeared in the output (since
the previous match) and then types the --send text ("\\n" is a newline).
Everything the command printed goes to stdout (carriage returns dropped);
the exit status is the command's (128+N for death by signal N). Gives up
(kills the command, exit 124) after 90 seconds.
"""

import os
import pty
import select
import signal
import sys
import time


def main():
    argv = sys.argv[1:]
    pairs = []
    while argv and argv[0] != "--":
        if argv[0] == "--expect" and len(argv) >= 4 and argv[2] == "--send":
            pairs.append((argv[1].encode(), argv[3].encode().decode("unicode_escape").encode()))
            argv = argv[4:]
        else:
            sys.stderr.write("e2e_pty.py: bad argument %r\n" % argv[0])
            return 2
    if not argv or len(argv) < 2:
        sys.stderr.write("usage: e2e_pty.py [--expect TEXT --send TEXT]... -- COMMAND [ARGS...]\n")
        return 2
    argv = argv[1:]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            sys.stderr.write("e2e_pty.py: %s: %s\n" % (argv[0], e))
            os._exit(127)
    out = b""
    seen = 0
    deadline = time.monotonic() + 90
    status = None
    while True:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
            sys.stdout.write("\ne2e_pty.py: timed out\n")
            return 124
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                d = b""
            if not d:
                break
            out += d
            while pairs and pairs[0][0] in out[seen:]:
                seen = out.index(pairs[0][0], seen) + len(pairs[0][0])
                os.write(fd, pairs[0][1])
                pairs.pop(0)
        elif status is not None:
            break
        else:
            p, st = os.waitpid(pid, os.WNOHANG)
            if p == pid:
                # Drain what is left (select again), then stop.
                status = st
    if status is None:
        _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
