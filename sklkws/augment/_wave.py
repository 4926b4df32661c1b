"""Waveform augmentations that move or scale samples: time shift and gain."""

import numbers

import numpy as np

from .._compat import Interval, StrOptions
from .._validation import NumberOrPair
from ._base import COMMON_CONSTRAINTS, BaseAugmenter


#: Memory-bound transforms run on up to this many floats at once (256 MB).
_WHOLE_BATCH_FLOATS = 1 << 26


class TimeShift(BaseAugmenter):
    """Shift each clip in time by a random amount, keeping its length.

    A positive shift delays the clip (content moves later). With
    ``mode="zero"`` the samples shifted out are dropped and the gap is filled
    with silence; with ``mode="roll"`` they wrap around to the other end.

    Parameters
    ----------
    shift_ms : float or (float, float), default=(-100.0, 100.0)
        Shift in milliseconds, drawn uniformly per clip and rounded to whole
        samples; the default spans 200 ms. Shifts longer than the clip are
        cut to the clip length.
    mode : {"zero", "roll"}, default="zero"
        Fill of the gap: silence, or the wrapped-around samples.
    p : float, default=1.0
        Probability that a clip is augmented.
    n_copies : int, default=1
        Augmented copies added by :meth:`fit_resample` (originals are kept).
    sample_rate : int, default=16000
        Sample rate of the clips.
    random_state : int, RandomState instance or None, default=None
        Seeds :meth:`fit_resample`; :meth:`augment` takes its own.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_clips * (1 + n_copies),)
        Input row of each row returned by :meth:`fit_resample`.
    sampling_strategy_ : dict
        Samples added per class (per indicator column for multi-label targets).
    n_features_in_ : int
        Clip length seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.augment import TimeShift
    >>> X = np.arange(1.0, 9.0, dtype=np.float32)[None]
    >>> TimeShift(shift_ms=2.0, sample_rate=1000).augment(X)
    array([[0., 0., 1., 2., 3., 4., 5., 6.]], dtype=float32)
    >>> TimeShift(shift_ms=-2.0, mode="roll", sample_rate=1000).augment(X)
    array([[3., 4., 5., 6., 7., 8., 1., 2.]], dtype=float32)
    """

    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        "shift_ms": [NumberOrPair(numbers.Real, None, None, closed="neither")],
        "mode": [StrOptions({"zero", "roll"})],
        "sample_rate": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, shift_ms=(-100.0, 100.0), *, mode="zero", p=1.0, n_copies=1,
                 sample_rate=16000, random_state=None):
        self.shift_ms = shift_ms
        self.mode = mode
        self.p = p
        self.n_copies = n_copies
        self.sample_rate = sample_rate
        self.random_state = random_state

    def _check_params(self):
        return {"shift_ms": NumberOrPair.as_pair(self.shift_ms)}

    def _chunk_clips(self, clip_size):
        # One gather over the batch writes the output directly; chunks would only
        # add a copy. Bounded so a huge fit_resample keeps its temporaries small.
        return max(1, _WHOLE_BATCH_FLOATS // clip_size)

    def _transform(self, X, rng, out, state):
        m, L = X.shape
        lo, hi = self._derived()["shift_ms"]
        shift = np.rint(rng.uniform(lo, hi, size=m) * (self.sample_rate / 1000.0)).astype(np.int64)
        np.clip(shift, -L, L, out=shift)
        w = int(np.abs(shift).max()) if m else 0  # widest band touched by the fill
        if w == 0:
            if out is None:
                return X.copy()
            out[...] = X
            return out
        # Row i of the output is the window of the flattened batch starting at
        # i*L - shift_i: right except on its first/last |shift_i| samples, which
        # hold a neighbour's samples and are fixed on a band of w columns. Window
        # starts are clipped to the batch, which only the first and last rows
        # need; those two are redone directly.
        flat = np.ascontiguousarray(X).reshape(-1)
        last = m * L - L
        base = np.arange(m) * L
        shifted = _windows(flat, L)[np.clip(base - shift, 0, last)]
        if out is None:
            out = shifted
        else:
            out[...] = shifted
        head_gap = np.arange(w) < shift[:, None]                 # (m, w): before the content
        tail_gap = np.arange(L - w, L) >= (L + shift)[:, None]   # (m, w): after the content
        head, tail = out[:, :w], out[:, L - w:]
        if self.mode == "zero":
            np.copyto(head, 0.0, where=head_gap)
            np.copyto(tail, 0.0, where=tail_gap)
        else:
            bands = _windows(flat, w)
            top = len(bands) - 1
            np.copyto(head, bands[np.clip(base + L - shift, 0, top)], where=head_gap)
            np.copyto(tail, bands[np.clip(base - w - shift, 0, top)], where=tail_gap)
        for i in {0, m - 1}:  # the two rows whose windows may have been clipped
            out[i] = _shift_row(X[i], int(shift[i]), self.mode)
        return out


def _windows(flat, width):
    """All windows of a contiguous 1-D array as a (n, width) view.

    Same as ``sliding_window_view`` without its per-call Python overhead, which
    shows at thousands of calls per epoch.
    """
    return np.ndarray((flat.size - width + 1, width), dtype=flat.dtype, buffer=flat,
                      strides=(flat.itemsize, flat.itemsize))


def _shift_row(x, s, mode):
    if mode == "roll":
        cut = len(x) - s % len(x)
        return np.concatenate([x[cut:], x[:cut]])
    y = np.zeros_like(x)
    if s >= 0:
        y[s:] = x[:len(x) - s]
    elif mode == "zero":
        y[:s] = x[-s:]
    return y


class Gain(BaseAugmenter):
    """Scale each clip by a random gain in dB (amplitude factor ``10 ** (gain_db / 20)``).

    Samples are not clipped, so gains above 0 dB may leave [-1, 1].

    Parameters
    ----------
    gain_db : float or (float, float), default=(-6.0, 6.0)
        Gain in dB, drawn uniformly per clip.
    p : float, default=1.0
        Probability that a clip is augmented.
    n_copies : int, default=1
        Augmented copies added by :meth:`fit_resample` (originals are kept).
    random_state : int, RandomState instance or None, default=None
        Seeds :meth:`fit_resample`; :meth:`augment` takes its own.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_clips * (1 + n_copies),)
        Input row of each row returned by :meth:`fit_resample`.
    sampling_strategy_ : dict
        Samples added per class (per indicator column for multi-label targets).
    n_features_in_ : int
        Clip length seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.augment import Gain
    >>> Gain(gain_db=-20.0).augment(np.ones((1, 4), dtype=np.float32))
    array([[0.1, 0.1, 0.1, 0.1]], dtype=float32)
    """

    _parameter_constraints: dict = {
        **COMMON_CONSTRAINTS,
        "gain_db": [NumberOrPair(numbers.Real, -300.0, 300.0, closed="both")],
    }

    def __init__(self, gain_db=(-6.0, 6.0), *, p=1.0, n_copies=1, random_state=None):
        self.gain_db = gain_db
        self.p = p
        self.n_copies = n_copies
        self.random_state = random_state

    def _check_params(self):
        return {"gain_db": NumberOrPair.as_pair(self.gain_db)}

    def _chunk_clips(self, clip_size):
        return max(1, _WHOLE_BATCH_FLOATS // clip_size)  # one multiply, no temporaries

    def _transform(self, X, rng, out, state):
        lo, hi = self._derived()["gain_db"]
        factor = 10.0 ** (rng.uniform(lo, hi, size=len(X)) / 20.0)
        return np.multiply(X, factor.astype(np.float32)[:, None], out=out)
