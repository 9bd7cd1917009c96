"""Lists 1,000 jobs through the generated Python bindings (the store written by the Rust bench
`list_jobs`); run by scripts/bench-bindings.sh. Not a test: prints figures."""
import sys
import time

import fieldline as fl

ROUNDS = 30
class BenchKey(fl.StoreKeyProvider):
    def store_secret(self):
        return b"fieldline list bench: fixed key!"  # as the Rust bench wrote the store


app = fl.FieldApp.open(sys.argv[1], BenchKey())


def list_all():
    n, cursor = 0, None
    while True:
        page = app.list_jobs(fl.JobQuery(limit=500, cursor=cursor))
        n += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return n


count = list_all()
assert count == 1000, count
times = []
for _ in range(ROUNDS):
    t = time.perf_counter()
    list_all()
    times.append((time.perf_counter() - t) * 1e3)
times.sort()
print(f"python list {count} jobs (2 pages of 500) via FFI:      median {times[ROUNDS // 2]:.2f} ms, "
      f"min {times[0]:.2f} ms ({ROUNDS} rounds)")
