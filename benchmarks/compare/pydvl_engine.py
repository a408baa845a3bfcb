"""Time pyDVL 0.10's exact Shapley values on the provider game saved by
``benchmarks.provider_game``.

Runs inside the comparison venv (``benchmarks/compare/.venv``, see ``setup.sh``)::

    .venv/bin/python pydvl_engine.py GAME.npz VALUES.npz --n-jobs 1

``GAME.npz`` holds ``x_train``, ``y_train``, ``groups`` (0-based provider of each row),
``x_valid``, ``y_valid`` and ``empty_score`` (the utility of the empty coalition, which pyDVL
takes as its scorer's ``default``). pyDVL's exact method walks every (player, subset of the
others) pair — ``n·2**(n−1)`` marginals — so it is given an in-memory cache that keeps every
result (``time_threshold=0``: by default pyDVL caches only fits slower than 0.3 s, i.e. none
here), without which it would fit ``n·2**n`` models instead of ``2**n``. BLAS runs
single-threaded in every worker (``--blas-threads``), as DataFair's fits do: with the
libraries' default threads a fit was ~40x slower on the shared 2-core machine. The values go
to ``VALUES.npz`` (key ``values``) and one JSON line with the timing and the fit count to
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
    parser.add_argument("game")
    parser.add_argument("values")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--blas-threads", type=int, default=1)
    args = parser.parse_args()
    # pyDVL 0.10 imports emit deprecation noise from its own dependencies.
    warnings.simplefilter("ignore", FutureWarning)
    import pydvl
    from joblib import parallel_config
    from pydvl.utils.caching.config import CachedFuncConfig
    from pydvl.utils.caching.memory import InMemoryCacheBackend
    from pydvl.valuation.dataset import Dataset, GroupedDataset
    from pydvl.valuation.methods.shapley import ShapleyValuation
    from pydvl.valuation.samplers.powerset import DeterministicUniformSampler
    from pydvl.valuation.scorers.supervised import SupervisedScorer
    from pydvl.valuation.stopping import NoStopping
    from pydvl.valuation.utility.modelutility import ModelUtility
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    arrays = np.load(args.game)
    train = GroupedDataset(arrays["x_train"], arrays["y_train"], data_groups=arrays["groups"])
    valid = Dataset(arrays["x_valid"], arrays["y_valid"])
    scorer = SupervisedScorer("accuracy", valid, default=float(arrays["empty_score"]))
    utility = ModelUtility(
        LogisticRegression(),
        scorer,
        cache_backend=InMemoryCacheBackend(),
        cached_func_options=CachedFuncConfig(time_threshold=0.0),
    )
    sampler = DeterministicUniformSampler()
    valuation = ShapleyValuation(utility, sampler, NoStopping(sampler), progress=False)
    started = time.perf_counter()
    # Worker processes inherit the caller's OPENBLAS/OMP_NUM_THREADS (set by the benchmark).
    with parallel_config(n_jobs=args.n_jobs), threadpool_limits(args.blas_threads):
        valuation.fit(train)
    seconds = time.perf_counter() - started
    values = valuation.result.values
    np.savez(args.values, values=values)
    stats = utility.cache_stats
    fits = None if stats is None else stats.misses
    print(json.dumps({"seconds": seconds, "pydvl": pydvl.__version__, "fits": fits}))


if __name__ == "__main__":
    main()
