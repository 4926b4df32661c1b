"""Training-only state out of a fitted model, before it is saved for prediction."""

import io
import pickle

import numpy as np

__all__ = ["DROPPED", "drop_training_state", "saved_size"]

#: What replaces dropped noise recordings in an AddNoise step (refitting asks for them again).
DROPPED = "dropped"


def saved_size(estimator):
    """Bytes of the estimator's pickle (what ``joblib.dump`` writes, uncompressed).

    Parameters
    ----------
    estimator : object

    Returns
    -------
    n_bytes : int
    """
    buffer = io.BytesIO()
    pickle.dump(estimator, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    return buffer.tell()


def drop_training_state(estimator, *, teachers=True):
    """Drop, in place, what only training needs: noise recordings and distillation teachers.

    Every :class:`~sklkws.augment.AddNoise` holding recordings (the recipe's
    ``background_noise``: 25.6 MB of Speech Commands' ``_background_noise_`` per
    network, kept again in a VotingClassifier's unfitted ``estimators``) gets
    ``noise="dropped"`` instead, wherever it sits (pipeline steps, a classifier's
    ``augment``, chains, ensemble members fitted or not). With ``teachers``, a
    :class:`~sklkws.distillation.DistilledClassifier`'s fitted ``teacher_`` (the
    whole vote it learnt from) is set to None. Predictions do not change; refitting
    needs the recordings again (``set_params(...noise=recordings)``).

    Parameters
    ----------
    estimator : fitted estimator
    teachers : bool, default=True
        Also drop fitted distillation teachers.

    Returns
    -------
    report : dict
        ``noise_steps`` (AddNoise steps changed), ``recording_bytes`` (their samples'
        bytes), ``teachers`` (teachers dropped).

    Examples
    --------
    >>> from sklkws.augment import AddNoise
    >>> step = AddNoise({"hum": np.zeros(16000, dtype=np.float32)})
    >>> drop_training_state(step)
    {'noise_steps': 1, 'recording_bytes': 64000, 'teachers': 0}
    >>> step.noise
    'dropped'
    """
    from ..augment import AddNoise

    report = {"noise_steps": 0, "recording_bytes": 0, "teachers": 0}
    seen = set()

    def walk(obj):
        if id(obj) in seen or obj is None or isinstance(obj, (str, bytes, int, float, np.ndarray)):
            return
        seen.add(id(obj))
        if isinstance(obj, AddNoise) and not isinstance(obj.noise, str):
            noise = obj.noise
            recordings = noise.values() if isinstance(noise, dict) else noise
            report["noise_steps"] += 1
            report["recording_bytes"] += int(sum(np.asarray(r).nbytes for r in recordings))
            obj.noise = DROPPED
            obj.__dict__.pop("_bank_cache", None)
            obj.__dict__.pop("_params_checked", None)  # the validation cache holds the parameters too
            return
        if teachers and hasattr(obj, "student_") and getattr(obj, "teacher_", None) is not None:
            obj.teacher_ = None
            report["teachers"] += 1
        if isinstance(obj, dict):
            for value in list(obj.values()):
                walk(value)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                walk(value)
        elif hasattr(obj, "get_params") and hasattr(obj, "__dict__"):
            # An estimator: its parameters and fitted attributes (members, steps, student_, ...).
            for value in list(vars(obj).values()):
                walk(value)

    walk(estimator)
    return report
