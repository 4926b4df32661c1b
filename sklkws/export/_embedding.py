"""A fitted speech-embedding pipeline to its device form (:class:`~sklkws.device.EmbeddingClassifier`)."""

import numpy as np

from ..device._embedding import EmbeddingClassifier

__all__ = ["to_embedding_classifier"]


def to_embedding_classifier(pipeline, *, num_threads=1):
    """The device form of a fitted ``SpeechEmbedding -> StandardScaler -> LogisticRegression`` pipeline.

    The returned object holds the ONNX model's bytes and the head's arrays, and
    computes the pipeline's probabilities with numpy and onnxruntime only:
    ``joblib.dump`` it here and ``joblib.load`` it on the device.

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
        If the pipeline is not of that shape, or its head is not a multinomial
        logistic regression.

    Examples
    --------
    >>> device_model = to_embedding_classifier(embedding_spotter_pipeline().fit(X, y))  # doctest: +SKIP
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.validation import check_is_fitted

    from ..frontend import SpeechEmbedding

    steps = [step for _, step in getattr(pipeline, "steps", [])]
    embedding, head = (steps[0], steps[-1]) if steps else (None, None)
    scaler = steps[1] if len(steps) == 3 else None
    if not isinstance(embedding, SpeechEmbedding) or not isinstance(head, LogisticRegression) or \
            len(steps) not in (2, 3) or (len(steps) == 3 and not isinstance(scaler, StandardScaler)):
        raise ValueError("to_embedding_classifier takes a Pipeline SpeechEmbedding -> [StandardScaler ->] "
                         "LogisticRegression (sklkws.custom_words.embedding_spotter_pipeline); export other "
                         "pipelines with export_compact.")
    check_is_fitted(head)
    if len(head.classes_) < 3:
        raise ValueError("to_embedding_classifier needs at least three classes (a binary logistic regression "
                         "has one decision function, not a softmax).")
    n_features = head.coef_.shape[1]
    mean = np.zeros(n_features) if scaler is None or scaler.mean_ is None else scaler.mean_
    scale = np.ones(n_features) if scaler is None or scaler.scale_ is None else scaler.scale_
    return EmbeddingClassifier(
        embedding.model_path_.read_bytes(), head.classes_, mean, scale, head.coef_, head.intercept_,
        embedding.n_features_in_, embedding.pad, num_threads=num_threads,
    )
