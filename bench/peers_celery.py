"""Celery side of bench/peers.ts: the app (imported by the worker as `-A peers_celery`) and, run as a
script, the client that times the workloads.

    REDIS_URL=redis://127.0.0.1:PORT/0 python3 -m celery -A peers_celery worker --pool=prefork --concurrency=2
    REDIS_URL=... python3 bench/peers_celery.py RUNS   ->  one JSON line {"independent": [s, ...], "chains": [s, ...]}

Workloads (as for celeriac and BullMQ): 1,000 independent add tasks, and 300 three-step chains
add(i, 1) -> add(2) -> add(3); each timed from the first send until every result is ready
(ResultSet.get, which waits on the Redis result backend), after one untimed warm-up round.
"""

import json
import os
import sys
import time

from celery import Celery, chain
from celery.result import ResultSet

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("peers", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
)


@app.task(name="add")
def add(x, y):
    return x + y


N_INDEPENDENT = 1000
N_CHAINS = 300


def independent():
    t0 = time.perf_counter()
    results = [add.delay(i, i) for i in range(N_INDEPENDENT)]
    values = ResultSet(results).get(timeout=300)
    secs = time.perf_counter() - t0
    assert values == [2 * i for i in range(N_INDEPENDENT)], "wrong results"
    return secs


def chains():
    t0 = time.perf_counter()
    results = [chain(add.s(i, 1), add.s(2), add.s(3)).apply_async() for i in range(N_CHAINS)]
    values = ResultSet(results).get(timeout=300)
    secs = time.perf_counter() - t0
    assert values == [i + 6 for i in range(N_CHAINS)], "wrong results"
    return secs


def wait_for_worker(timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if app.control.ping(timeout=1.0):
            return
    raise SystemExit("celery worker did not answer ping")


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    wait_for_worker()
    independent()  # warm-up
    chains()
    out = {"independent": [], "chains": []}
    for _ in range(runs):
        out["independent"].append(independent())
        out["chains"].append(chains())
    print(json.dumps(out))
