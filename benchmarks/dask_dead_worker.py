"""What a caller sees when every Dask worker that runs a task dies: Dask's own futures against joblib's Dask backend.

    python benchmarks/dask_dead_worker.py [--wait 120]

Starts a two-worker ``LocalCluster`` with ``distributed.scheduler.allowed-failures``
set to 1 and runs a fit that ends its worker process (``os._exit``), once through
``client.submit(...).result()`` and once through ``cross_validate`` under
``joblib.parallel_backend("dask")``. Prints, for each, the exception raised and after how
many seconds, or that nothing came back within ``--wait`` seconds. docs/scale.md quotes
the output.
"""

import argparse
import os
import threading
import time

import dask
import distributed
import joblib
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import cross_validate


class DiesInFit(ClassifierMixin, BaseEstimator):
    """A classifier whose fit ends the process it runs in, as a crashed or killed worker would."""

    def fit(self, X, y):
        os._exit(1)

    def predict(self, X):  # pragma: no cover - never fitted
        return np.zeros(len(X))


def end_worker():
    os._exit(1)


def outcome(call, wait):
    """(what happened, seconds): the exception's name and first line, or a timeout."""
    box = {}

    def run():
        start = time.perf_counter()
        try:
            call()
            box["result"] = ("returned", time.perf_counter() - start)
        except BaseException as error:  # noqa: BLE001 - reporting whatever comes back is the point
            box["result"] = (f"{type(error).__name__}: {str(error).splitlines()[0][:120]}",
                             time.perf_counter() - start)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(wait)
    return box.get("result", (f"nothing came back within {wait:g} s", wait))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wait", type=float, default=120.0)
    args = parser.parse_args(argv)
    X, y = np.random.default_rng(0).random((20, 3)), np.arange(20) % 2
    print(f"joblib {joblib.__version__}, distributed {distributed.__version__}")
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=50) as cluster, distributed.Client(cluster) as client:
            what, seconds = outcome(lambda: client.submit(end_worker, pure=False).result(), args.wait)
            print(f"client.submit(...).result(): {what} ({seconds:.1f} s)", flush=True)

            client.wait_for_workers(2, timeout=60)  # the nannies restart the ended workers

            def on_joblib():
                with joblib.parallel_backend("dask"):
                    cross_validate(DiesInFit(), X, y, cv=2, n_jobs=-1)

            what, seconds = outcome(on_joblib, args.wait)
            print(f"cross_validate under joblib.parallel_backend('dask'): {what} ({seconds:.1f} s)", flush=True)
    os._exit(0)  # a hung joblib call leaves a thread waiting forever: do not wait for it at exit


if __name__ == "__main__":
    main()
