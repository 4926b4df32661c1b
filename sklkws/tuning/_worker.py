"""``sklkws tune``: one worker of a shared Optuna study, the same command on every machine.

Every machine runs ``sklkws tune --study URL --data DIR --n-trials N``; they share
the study through its database (PostgreSQL for several machines), Optuna hands out
the trials, and the workers stop together once the study holds ``N`` finished
trials. A worker killed mid-trial stops its heartbeat; the next worker to start a
trial fails that trial and re-queues its parameters (``OptunaSearch``'s
``heartbeat_interval``), so no trial is lost on resume.
"""

import numbers
import os
from pathlib import Path

import numpy as np

from .._compat import Interval, validate_params

#: Bytes of one loaded clip: one second at 16 kHz as int16.
CLIP_BYTES = 16000 * 2
_N_TRIALS = Interval(numbers.Integral, 1, None, closed="left")


def available_memory():
    """Bytes of memory available to a new allocation (``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return None


def count_clips(path):
    """Audio files in the word folders of a Speech Commands folder (no decoding)."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"Data folder not found: {root}.")
    n = 0
    for folder in os.scandir(root):
        if folder.is_dir() and not folder.name.startswith(".") and folder.name != "_background_noise_":
            n += sum(1 for f in os.scandir(folder.path) if f.name.lower().endswith((".wav", ".flac")))
    if n == 0:
        raise ValueError(f"No wav or flac clips found under {root}: give a folder in the Speech Commands layout.")
    return n


@validate_params(
    {
        "path": [str, os.PathLike],
        "memory_budget": [Interval(numbers.Real, 0, None, closed="left"), None],
        "factor": [Interval(numbers.Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def check_memory_budget(path, memory_budget=None, factor=3.0):
    """Raise a ValueError, before anything is decoded, when the folder will not fit in memory.

    Parameters
    ----------
    path : str or path-like
        Speech Commands folder.
    memory_budget : int or None, default=None
        Bytes the worker may use; None: the machine's available memory.
    factor : float, default=3.0
        Peak memory as a multiple of the int16 clips (training holds float copies
        of batches, the network and the validation features besides the clips).

    Returns
    -------
    n_clips : int
        Clips in the folder.
    """
    n_clips = count_clips(path)
    budget = available_memory() if memory_budget is None else int(memory_budget)
    need = int(n_clips * CLIP_BYTES * factor)
    if budget is not None and need > budget:
        raise ValueError(
            f"The data folder {path} holds {n_clips} clips, about {need / 2**30:.1f} GiB to train on "
            f"({factor:g} x their {n_clips * CLIP_BYTES / 2**30:.2f} GiB as int16), but the memory budget is "
            f"{budget / 2**30:.1f} GiB: use a machine with more memory, a subset of the folder, or raise "
            "--memory-budget if the estimate is too cautious."
        )
    return n_clips


def open_study_storage(url):
    """Connect to the study's database; a ValueError naming the URL if it cannot be reached."""
    from sqlalchemy.exc import SQLAlchemyError

    from ._search import _open_rdb_storage

    try:
        return _open_rdb_storage(url, attempts=2)
    except (SQLAlchemyError, ImportError, OSError) as error:
        detail = " ".join(str(error).split())[:300]
        raise ValueError(
            f"Cannot reach the study storage {url!r}: {detail}. Check the URL (e.g. "
            "postgresql://user:password@host:5432/db or sqlite:///study.db), that the server is up "
            "and that this machine may connect to it."
        ) from error


@validate_params(
    {
        "study": [str],
        "data": [str, os.PathLike],
        "study_name": [str],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "memory_budget": [Interval(numbers.Real, 0, None, closed="left"), None],
        "heartbeat_interval": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "n_jobs": [numbers.Integral, None],
        "verbose": ["verbose"],
    },
    # OptunaSearch and the classifier check their own parameters once more, cheaply.
    prefer_skip_nested_validation=False,
)
def tune_main(study, data, n_trials, *, study_name="sklkws", epochs=10, cv=3, memory_budget=None,
              heartbeat_interval=60, random_state=None, n_jobs=None, verbose=1):
    """Run one worker of the study ``study_name`` in the database ``study`` on the clips of ``data``.

    The estimator is :func:`sklkws.recipes.recommended_classifier` (``epochs``)
    on the int16 clips; the space is the default one (learning rate and decay);
    folds are grouped by speaker. Returns the fitted :class:`OptunaSearch`.
    """
    from ..datasets import load_speech_commands
    from ..recipes import recommended_classifier
    from ._search import OptunaSearch

    # Checked here, not in validate_params, so that the message names the command's flag.
    if not _N_TRIALS.is_satisfied_by(n_trials) or isinstance(n_trials, bool):
        raise ValueError(f"--n-trials must be a positive integer, got {n_trials!r}.")
    open_study_storage(study)  # fail fast, before minutes of decoding
    check_memory_budget(data, memory_budget)
    X, y, groups = load_speech_commands(data, labels="12class", dtype="int16", n_jobs=n_jobs or -1)
    search = OptunaSearch(
        recommended_classifier(epochs=epochs, random_state=random_state),
        cv=cv, n_trials=n_trials, storage=study, study_name=study_name, refit=False,
        heartbeat_interval=heartbeat_interval, random_state=random_state, verbose=verbose,
    ).fit(X, y, groups=groups)
    states = np.asarray(search.cv_results_["state"])
    print(f"study {study_name!r}: {int(np.sum(states == 'COMPLETE'))} complete, {int(np.sum(states == 'PRUNED'))} "
          f"pruned, {int(np.sum(states == 'FAIL'))} failed trials; best {search.best_score_:.4f} with "
          f"{search.best_params_}")
    return search
