"""The speech_embedding model the embedding tests need, or a skip that says how to install it."""

import pytest


def require_speech_embedding():
    """The ONNX file's path; skips the test (module) when onnxruntime or the model is missing."""
    pytest.importorskip("onnxruntime", reason="the embedding front end needs onnxruntime (make setup installs it)")
    from sklkws.frontend import speech_embedding_path

    try:
        return speech_embedding_path()
    except FileNotFoundError as error:
        pytest.skip(str(error), allow_module_level=True)
