"""Time pyDVL 0.10's KNNShapleyValuation on arrays saved by ``benchmarks.knn_shapley``.

Runs inside the comparison venv (``benchmarks/compare/.venv``, see ``setup.sh``)::

    .venv/bin/python pydvl_knn.py DATA.npz VALUES.npz --k 5 --n-jobs 1

``DATA.npz`` holds ``x_train``, ``y_train``, ``x_valid``, ``y_valid``; the values are written
to ``VALUES.npz`` (key ``values``) and one JSON line with the wall and CPU seconds goes to
stdout.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("values")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    # pyDVL 0.10 imports emit deprecation noise from its own dependencies.
    warnings.simplefilter("ignore", FutureWarning)
    import pydvl
    from joblib import parallel_config
    from pydvl.valuation.dataset import Dataset
    from pydvl.valuation.methods.knn_shapley import KNNShapleyValuation
    from sklearn.neighbors import KNeighborsClassifier

    arrays = np.load(args.data)
    train = Dataset(arrays["x_train"], arrays["y_train"])
    valid = Dataset(arrays["x_valid"], arrays["y_valid"])
    valuation = KNNShapleyValuation(KNeighborsClassifier(n_neighbors=args.k), valid, progress=False)
    with parallel_config(n_jobs=args.n_jobs):
        start, cpu = time.perf_counter(), time.process_time()
        valuation.fit(train)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    np.savez(args.values, values=valuation.result.values)
    # CPU seconds of this process only: with n_jobs > 1 the work happens in joblib workers.
    report = {"seconds": seconds, "cpu_seconds": cpu, "n_jobs": args.n_jobs}
    print(json.dumps(report | {"pydvl": pydvl.__version__}))


if __name__ == "__main__":
    main()
