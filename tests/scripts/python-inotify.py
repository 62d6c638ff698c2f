"""inotify through ctypes (no inotify module in the standard library): a
watched temporary directory, changes made by Python's own file calls, the
events printed as "wd mask-names cookie name"."""
import ctypes
import os
import select
import struct
import tempfile

libc = ctypes.CDLL(None, use_errno=True)
NAMES = [(0x1, "ACCESS"), (0x2, "MODIFY"), (0x4, "ATTRIB"), (0x8, "CLOSE_WRITE"),
         (0x10, "CLOSE_NOWRITE"), (0x20, "OPEN"), (0x40, "MOVED_FROM"),
         (0x80, "MOVED_TO"), (0x100, "CREATE"), (0x200, "DELETE"),
         (0x400, "DELETE_SELF"), (0x800, "MOVE_SELF"), (0x8000, "IGNORED"),
         (0x40000000, "ISDIR")]
IN_NONBLOCK = os.O_NONBLOCK
cookies = {}


def drain(fd, title):
    print(title + ":")
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        off = 0
        while off < len(data):
            wd, mask, cookie, length = struct.unpack_from("iIII", data, off)
            name = data[off + 16:off + 16 + length].rstrip(b"\0").decode() or "-"
            off += 16 + length
            m = "|".join(n for b, n in NAMES if mask & b)
            c = "0" if cookie == 0 else "c%d" % cookies.setdefault(cookie, len(cookies) + 1)
            print("  %d %s %s %s" % (wd, m, c, name))


def watch(fd, path, mask=0xfff):
    wd = libc.inotify_add_watch(fd, path.encode(), mask)
    label = "dir" if path == d else os.path.basename(path)
    print("watch %s = %s" % (label, wd if wd >= 0 else os.strerror(ctypes.get_errno())))
    return wd


fd = libc.inotify_init1(IN_NONBLOCK)
d = tempfile.mkdtemp()
watch(fd, d)
p = os.path.join(d, "data.txt")
with open(p, "w") as f:
    f.write("hello\n")
drain(fd, "write a file")
watch(fd, p)
with open(p) as f:
    f.read()
drain(fd, "read it")
os.chmod(p, 0o600)
os.utime(p, None)
drain(fd, "chmod, utime")
os.rename(p, p + ".old")
drain(fd, "rename")
os.mkdir(os.path.join(d, "sub"))
os.rmdir(os.path.join(d, "sub"))
drain(fd, "mkdir, rmdir")
poller = select.poll()
poller.register(fd, select.POLLIN)
print("poll empty", poller.poll(0))
os.unlink(p + ".old")
print("poll ready", [(1, e) for _, e in poller.poll(0)])
drain(fd, "unlink")
os.rmdir(d)
drain(fd, "rmdir the watched directory")
libc.inotify_rm_watch(fd, 99)
print("rm_watch 99:", os.strerror(ctypes.get_errno()))
os.close(fd)
