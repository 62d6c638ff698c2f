import os, tempfile
fd, p = tempfile.mkstemp()
os.setxattr(p, "user.color", b"blue")
print(os.getxattr(p, "user.color"), os.listxattr(p))
os.removexattr(p, "user.color")
try:
    os.getxattr(p, "user.color")
except OSError as e:
    print("removed", e.errno == 61)
os.unlink(p)
