import multiprocessing as mp
def sq(x): return x * x
if __name__ == "__main__":
    with mp.Pool(4) as p:
        print("pool", sum(p.map(sq, range(100))))
