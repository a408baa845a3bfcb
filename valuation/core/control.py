"""A cheap game that tracks a linear classifier's accuracy: the control variate of the row game.

Row-level Shapley values of a model game are noisy because a model fitted on a few hundred
rows is chaotic in which rows it gets: the same-size coalitions of a logistic regression
spread by 2–4 points of accuracy, and no additive or count-based feature of a coalition
explains that spread. A *standardised ridge classifier fitted on the same coalition* does:
its accuracy follows the logistic regression's with a correlation of 0.9–0.99 at every
coalition size below 1,500 of 2,000 rows (measured in ``benchmarks/manipulation.py``). And
unlike the buyer's model it costs no iterative fit: from a coalition's sums ``Σx``,
``Σxxᵀ``, ``Σxt`` and its class counts, its weights are one ``d × d`` solve.

:class:`RidgeControl` evaluates that game ``V`` for a batch of coalitions at once. The sums
are one matrix product of the coalitions' membership matrix with the rows' products
``[1, x, t, x xᵀ, x tᵀ, class]``, built block by block so the memory stays bounded. Every
coalition gets the same rule as :class:`~valuation.core.utility.ModelGame`:
StandardScaler on its rows (a feature constant in it is left unscaled), then
``RidgeClassifier(alpha)`` (targets ±1, one column per class, one for two classes); a
coalition with one class, or fewer rows than the game's ``min_rows``, gets the constant
predictor of its rows (the whole training set's for the empty one); the buyer's baseline is
in every coalition, and ``floor`` is applied as in the game.

How :class:`~valuation.core.methods.rows.RowShapley` uses it: ``φ(U) = φ(U − V) + φ(V)``
for any game ``V``. The first term is estimated from the buyer's fits, on the coalitions
they were drawn for; the second from many more coalitions of ``V`` alone, which cost almost
nothing. Both estimates are unbiased, so their sum is; where ``V`` tracks ``U`` the first
term's noise is a fraction of ``U``'s. ``V`` reads the rows' content only, never an owner.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import Pipeline

from valuation.core.utility import ModelGame, _thread_controller

#: The ridge penalty of the control, on standardised features (alpha 1 and 30 track the
#: logistic regression less well on the benchmark's data).
CONTROL_ALPHA = 10.0

#: Rows of the products matrix built at once, and the most coalitions summed at once: the
#: memory of one evaluation stays under ~40 MB whatever the number of rows.
_BLOCK_ROWS = 4096
_BATCH = 1024

#: Products kept between evaluations when they fit in this many numbers (64 MB).
_KEPT_PRODUCTS = 2**23


#: Models whose accuracy the control tracks: logistic regression (measured, module docstring)
#: and the ridge classifier itself (there the control is the game).
_TRACKED = (LogisticRegression, RidgeClassifier)


def _final_step(model):
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def tracks(game) -> bool:
    """Whether ``game`` has a control: a :class:`ModelGame` of a logistic regression or
    ridge classifier scored by accuracy (elsewhere the estimator runs without one)."""
    return (
        isinstance(game, ModelGame)
        and game.task == "classification"
        and game.scorer.name == "accuracy"
        and is_classifier(game.model)
        and isinstance(_final_step(game.model), _TRACKED)
    )


def _target_columns(n_classes: int) -> int:
    """Ridge targets per row: one ±1 column for two classes, one per class otherwise."""
    return 1 if n_classes == 2 else n_classes


def _width(n_features: int, n_classes: int) -> int:
    """Columns of a row's products ``[1, x, t, x xᵀ, x tᵀ, one-hot class]``."""
    k = _target_columns(n_classes)
    return 1 + n_features + k + n_features**2 + n_features * k + n_classes


def control_flops(game: ModelGame) -> float:
    """Roughly the arithmetic of the control's utility of one coalition of ``game`` (its
    sums over every row, its solve and its scores), known before the control is built."""
    n_rows, d = game.train.X.shape
    labels = game.train.y if game.baseline is None else np.r_[game.train.y, game.baseline.y]
    n_classes = np.unique(labels).size
    k = _target_columns(n_classes)
    return 2.0 * n_rows * _width(d, n_classes) + d**3 + 2.0 * game.valid.X.shape[0] * d * k


class RidgeControl:
    """Accuracy of a standardised ridge classifier fitted on each coalition of ``game``'s
    rows, for many coalitions at once (the module docstring gives the rule).

    Parameters
    ----------
    game : ModelGame
        The classification game to follow: its rows, validation data, baseline,
        ``min_rows`` and ``floor``.
    alpha : float
        The ridge penalty on standardised features.
    """

    def __init__(self, game: ModelGame, alpha: float = CONTROL_ALPHA) -> None:
        train, valid, baseline = game.train, game.valid, game.baseline
        X = np.asarray(train.X, dtype=np.float64)
        labels = train.y if baseline is None else np.concatenate([train.y, baseline.y])
        self.classes = np.unique(labels)
        # StandardScaler is invariant to a shift and scale of each feature: centre and scale
        # once here, so the per-coalition moments below lose no precision to large offsets.
        centre, scale = X.mean(axis=0), X.std(axis=0)
        scale[scale == 0] = 1.0
        self._X = (X - centre) / scale
        self._codes = np.searchsorted(self.classes, train.y)
        self._valid_X = (np.asarray(valid.X, dtype=np.float64) - centre) / scale
        found = np.searchsorted(self.classes, valid.y).clip(0, self.classes.size - 1)
        self._valid_codes = np.where(self.classes[found] == valid.y, found, -1)
        self.alpha = float(alpha)
        self.min_rows = game.min_rows
        self.floor = game.floor
        self.n_rows, self.n_features = self._X.shape
        self._k = _target_columns(self.classes.size)
        self._baseline = (
            None
            if baseline is None
            else self._products(
                (np.asarray(baseline.X, dtype=np.float64) - centre) / scale,
                np.searchsorted(self.classes, baseline.y),
            ).sum(axis=0)
        )
        # A coalition of no rows at all (no baseline either) gets the constant predictor of
        # every training row's label, as in the game.
        self._prior = int(np.argmax(np.bincount(self._codes, minlength=self.classes.size)))
        self._kept = (
            self._products(self._X, self._codes)
            if self.n_rows * self.width <= _KEPT_PRODUCTS
            else None
        )
        self._threads = game.n_threads
        self.empty = float(self._scores([np.empty(0, dtype=np.int64)])[0])

    @property
    def width(self) -> int:
        """Columns of the rows' products: the size of one coalition's sums."""
        return _width(self.n_features, self.classes.size)

    def _targets(self, codes: np.ndarray) -> np.ndarray:
        targets = -np.ones((codes.size, self.classes.size))
        targets[np.arange(codes.size), codes] = 1.0
        return targets[:, 1:] if self._k == 1 else targets

    def _products(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Each row's ``[1, x, t, x xᵀ, x tᵀ, one-hot class]``."""
        n, d = X.shape
        t = self._targets(codes)
        return np.hstack(
            [
                np.ones((n, 1)),
                X,
                t,
                (X[:, :, None] * X[:, None, :]).reshape(n, d * d),
                (X[:, :, None] * t[:, None, :]).reshape(n, d * self._k),
                np.eye(self.classes.size)[codes],
            ]
        )

    def sums(self, members: list[np.ndarray]) -> np.ndarray:
        """Each coalition's sums of the rows' products (baseline included)."""
        total = np.zeros((len(members), self.width))
        for lo in range(0, self.n_rows, _BLOCK_ROWS):
            hi = min(self.n_rows, lo + _BLOCK_ROWS)
            inside = np.zeros((len(members), hi - lo))
            for j, rows in enumerate(members):
                chosen = rows[(rows >= lo) & (rows < hi)]
                inside[j, chosen - lo] = 1.0
            products = (
                self._products(self._X[lo:hi], self._codes[lo:hi])
                if self._kept is None
                else self._kept[lo:hi]
            )
            total += inside @ products
        if self._baseline is not None:
            total += self._baseline
        return total

    def __call__(self, members: list[np.ndarray]) -> np.ndarray:
        """The control's utility of each coalition (arrays of row indices), with BLAS held
        to the game's ``n_threads`` as its fits are."""
        with _thread_controller().limit(limits=self._threads):
            scores = np.concatenate(
                [self._scores(members[lo : lo + _BATCH]) for lo in range(0, len(members), _BATCH)]
                or [np.empty(0)]
            )
        return np.maximum(scores, self.empty) if self.floor else scores

    def _scores(self, members: list[np.ndarray]) -> np.ndarray:
        d, k = self.n_features, self._k
        sums = self.sums(members)
        n = sums[:, 0]
        parts = np.cumsum([1, d, k, d * d, d * k])
        sx, st, sxx, sxt, counts = np.split(sums, parts, axis=1)[1:]
        present = counts > 0
        trained = (present.sum(axis=1) >= 2) & (n >= self.min_rows)
        scores = np.full(len(members), np.nan)
        if trained.any():
            scores[trained] = self._ridge_accuracy(
                n[trained], sx[trained], st[trained], sxx[trained], sxt[trained], present[trained]
            )
        constant = ~trained
        if constant.any():
            majority = np.argmax(counts[constant], axis=1)  # ties to the smallest label
            majority[n[constant] == 0] = self._prior
            scores[constant] = np.mean(self._valid_codes[None, :] == majority[:, None], axis=1)
        return scores

    def _ridge_accuracy(self, n, sx, st, sxx, sxt, present) -> np.ndarray:
        d, k = self.n_features, self._k
        mean = sx / n[:, None]
        target_mean = st / n[:, None]
        cov = sxx.reshape(-1, d, d) / n[:, None, None] - mean[:, :, None] * mean[:, None, :]
        var = np.einsum("bii->bi", cov)
        # A feature constant in the coalition (up to rounding) is left unscaled, as
        # StandardScaler does; the inputs are standardised over all rows, so 1e-10 is tiny.
        std = np.where(var > 1e-10, np.sqrt(np.abs(var)), 1.0)
        gram = n[:, None, None] * cov / (std[:, :, None] * std[:, None, :])
        gram[:, np.arange(d), np.arange(d)] += self.alpha
        xt = sxt.reshape(-1, d, k) - n[:, None, None] * mean[:, :, None] * target_mean[:, None, :]
        weights = np.linalg.solve(gram, xt / std[:, :, None]) / std[:, :, None]
        offset = target_mean - np.einsum("bd,bdk->bk", mean, weights)
        scores = np.matmul(self._valid_X, weights) + offset[:, None, :]
        if self._k == 1:
            predicted = (scores[:, :, 0] > 0).astype(np.int64)
        else:
            scores[~np.broadcast_to(present[:, None, :], scores.shape)] = -np.inf
            predicted = np.argmax(scores, axis=2)
        return np.mean(predicted == self._valid_codes[None, :], axis=1)
