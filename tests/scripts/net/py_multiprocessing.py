# multiprocessing: a manager (a server process reached over a unix socket with an auth key),
# a listener/client pair, and a pool.
import multiprocessing as mp
from multiprocessing.connection import Client, Listener


def work(x):
    return x * x


def add(d, k):
    d[k] = k * 10


if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Manager() as m:
        d = m.dict()
        procs = [mp.Process(target=add, args=(d, i)) for i in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        print("manager", sorted(d.items()))
        q = m.Queue()
        q.put("through the manager")
        print("queue", q.get())
    with Listener(("127.0.0.1", 0), authkey=b"secret") as lst:
        p = mp.Process(target=lambda a: Client(a, authkey=b"secret").send([1, 2, 3]), args=(lst.address,))
        p.start()
        with lst.accept() as conn:
            print("listener", conn.recv())
        p.join()
    with mp.Pool(3) as pool:
        print("pool", pool.map(work, range(8)))
