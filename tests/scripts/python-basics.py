import threading, subprocess, os, signal, hashlib, tempfile, shutil, sys
res = []
lock = threading.Lock()
def w(i):
    s = sum(range(i * 1000))
    with lock: res.append(s)
ts = [threading.Thread(target=w, args=(i,)) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print("threads", len(res), sum(res))
r = subprocess.run(["echo", "from-subprocess"], capture_output=True, text=True)
print("subprocess", r.returncode, r.stdout.strip())
pid = os.fork()
if pid == 0:
    os._exit(5)
_, st = os.waitpid(pid, 0)
print("fork", os.WEXITSTATUS(st))
d = tempfile.mkdtemp()
with open(os.path.join(d, "f"), "w") as f: f.write("x" * 1000)
shutil.copy(os.path.join(d, "f"), os.path.join(d, "g"))
print("tempfile", sorted(os.listdir(d)), os.path.getsize(os.path.join(d, "g")))
shutil.rmtree(d)
h = hashlib.sha256()
with open("/usr/bin/python3", "rb") as f:
    while chunk := f.read(1 << 16): h.update(chunk)
print("hash", h.hexdigest()[:16])
