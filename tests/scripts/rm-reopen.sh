# Reopening open files through /proc/self/fd/N, /proc/PID/fd/N, /dev/fd/N
# and /dev/std{in,out,err}: pipes (either end), host stdio, regular files,
# directories, deleted files, and anonymous files (ENXIO).
T=/tmp/rm-reopen.$$
echo to-stderr >/dev/stderr 2>&1
(echo via-stderr >/dev/stderr) 2>&1 | cat
echo to-stdout >/dev/stdout
echo hi | cat /dev/stdin
echo hi-fd | cat /proc/self/fd/0
echo hi-devfd | cat /dev/fd/0
printf 'file\n' >"$T"
cat /proc/self/fd/0 <"$T"
exec 4<"$T"
cat /proc/$$/fd/4
exec 4<&-
(exec 5>&1; echo via-fd5 >/proc/self/fd/5) | cat
# A deleted file still opens through its descriptor's link.
printf 'deleted-but-open\n' >"$T"
exec 6<"$T"
rm -f "$T"
cat /proc/self/fd/6
echo more >>/dev/fd/6 2>/dev/null || echo append-to-read-only-fd-refused
exec 6<&-
rm -f "$T"
python3 - <<'PY'
import errno, os
r, w = os.pipe()
w2 = os.open('/proc/self/fd/%d' % r, os.O_WRONLY)
os.write(w2, b'x')
print('read end reopened for writing:', os.read(r, 1))
r2 = os.open('/proc/self/fd/%d' % w, os.O_RDONLY)
os.write(w, b'y')
print('write end reopened for reading:', os.read(r2, 1))
d = os.open('/tmp', os.O_RDONLY | os.O_DIRECTORY)
d2 = os.open('/proc/self/fd/%d' % d, os.O_RDONLY | os.O_DIRECTORY)
print('directory reopened:', os.path.samestat(os.fstat(d), os.fstat(d2)))
e = os.eventfd(0)
try:
    os.open('/proc/self/fd/%d' % e, os.O_RDONLY)
    print('eventfd reopened')
except OSError as x:
    print('eventfd:', errno.errorcode[x.errno])
ep = __import__('select').epoll()
try:
    os.open('/proc/self/fd/%d' % ep.fileno(), os.O_RDONLY)
    print('epoll reopened')
except OSError as x:
    print('epoll:', errno.errorcode[x.errno])
try:
    os.open('/proc/self/fd/999', os.O_RDONLY)
except OSError as x:
    print('closed fd:', errno.errorcode[x.errno])
PY
