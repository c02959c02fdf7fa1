"""Celery's in-process trace, for bench/overhead-compare.ts.

task.apply() runs a task eagerly through Celery's tracer (build_tracer: prerun/postrun signals,
state bookkeeping, result store). With task_store_eager_result=True the result is stored in the
result backend, here the in-process cache+memory:// backend: the closest Celery analogue of
celeriac's worker path on its memory adapters.

    /usr/bin/python3 bench/celery_apply.py N   ->  one JSON line
"""

import json
import sys
import time

import celery
from celery import Celery

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
WARMUP = 2_000

app = Celery("bench", broker="memory://", backend="cache+memory://")
app.conf.task_store_eager_result = True


@app.task
def noop():
    return None


for _ in range(WARMUP):
    noop.apply()

t0 = time.perf_counter()
last = None
for _ in range(N):
    last = noop.apply()
secs = time.perf_counter() - t0

# The result really went through the backend (not just the EagerResult object).
stored = app.AsyncResult(last.id).state
if stored != "SUCCESS":
    raise SystemExit(f"last result not stored in the backend: {stored}")

print(
    json.dumps(
        {
            "celery": celery.__version__,
            "python": sys.version.split()[0],
            "tasks": N,
            "seconds": secs,
            "tasks_per_s": N / secs,
        }
    )
)
