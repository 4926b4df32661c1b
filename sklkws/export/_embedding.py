"""A fitted speech-embedding pipeline to its device form (:class:`~sklkws.device.EmbeddingClassifier`)."""

import numpy as np

from ..device._embedding import EmbeddingClassifier

__all__ = ["to_embedding_classifier"]


def to_embedding_classifier(pipeline, *, num_threads=1):
    """The device form of a fitted ``SpeechEmbedding -> StandardScaler -> head`` pipeline.

    The head is a multinomial :class:`~sklearn.linear_model.LogisticRegression` or a
    ReLU :class:`~sklearn.neural_network.MLPClassifier` (both softmax over at least
    three classes). The returned object holds the ONNX model's bytes and the head's
    arrays, and computes the pipeline's probabilities with numpy and onnxruntime
    only: ``joblib.dump`` it here and ``joblib.load`` it on the device.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted, as made by :func:`sklkws.custom_words.embedding_spotter_pipeline`
        (the scaler is optional).
    num_threads : int, default=1
        onnxruntime threads of the returned classifier.

    Returns
    -------
    classifier : EmbeddingClassifier

    Raises
    ------
    ValueError
        If the pipeline is not of that shape, or its head is not one of those two.

    Examples
    --------
    >>> device_model = to_embedding_classifier(embedding_spotter_pipeline().fit(X, y))  # doctest: +SKIP
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.validation import check_is_fitted

    from ..frontend import SpeechEmbedding

    steps = [step for _, step in getattr(pipeline, "steps", [])]
    embedding, head = (steps[0], steps[-1]) if steps else (None, None)
    scaler = steps[1] if len(steps) == 3 else None
    if not isinstance(embedding, SpeechEmbedding) or not isinstance(head, (LogisticRegression, MLPClassifier)) or \
            len(steps) not in (2, 3) or (len(steps) == 3 and not isinstance(scaler, StandardScaler)):
        raise ValueError("to_embedding_classifier takes a Pipeline SpeechEmbedding -> [StandardScaler ->] "
                         "LogisticRegression or MLPClassifier (sklkws.custom_words.embedding_spotter_pipeline); "
                         "export other pipelines with export_compact.")
    check_is_fitted(head)
    if len(head.classes_) < 3:
        raise ValueError("to_embedding_classifier needs at least three classes (a binary head has one "
                         "decision function, not a softmax).")
    if isinstance(head, MLPClassifier):
        if head.activation != "relu":
            raise ValueError(f"The device runs ReLU hidden layers; the MLPClassifier uses {head.activation!r}.")
        hidden = list(zip(head.coefs_[:-1], head.intercepts_[:-1]))
        coef, intercept = head.coefs_[-1].T, head.intercepts_[-1]
    else:
        hidden, coef, intercept = [], head.coef_, head.intercept_
    n_features = hidden[0][0].shape[0] if hidden else coef.shape[1]
    mean = np.zeros(n_features) if scaler is None or scaler.mean_ is None else scaler.mean_
    scale = np.ones(n_features) if scaler is None or scaler.scale_ is None else scaler.scale_
    return EmbeddingClassifier(
        embedding.model_path_.read_bytes(), head.classes_, mean, scale, coef, intercept,
        embedding.n_features_in_, embedding.pad, num_threads=num_threads, hidden=hidden,
    )
