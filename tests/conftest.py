"""Shared fixtures: where the real Speech Commands folder lives, if anywhere."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow's oneDNN CPU kernels aborted and corrupted the heap in CI (conv2d backprop of
# the tests' tiny eager models, on CI's CPU only); the plain Eigen kernels are used in tests.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parents[1]
SPEECH_COMMANDS_DIR = Path(
    os.environ.get("SKLKWS_SPEECH_COMMANDS", ROOT.parent / "shared" / "data" / "speech_commands")
)


@pytest.fixture(scope="session")
def speech_commands_dir():
    """The real Speech Commands development folder; skips the test when absent."""
    if not (SPEECH_COMMANDS_DIR / "yes").is_dir():
        pytest.skip(
            f"real Speech Commands data not found at {SPEECH_COMMANDS_DIR} "
            "(set SKLKWS_SPEECH_COMMANDS to a folder in the standard layout)"
        )
    return SPEECH_COMMANDS_DIR


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_configure(config):
    """One BLAS thread per parallel worker (xdist or ``run_isolated.py``): on 2 cores more only fight."""
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get("SKLKWS_ISOLATED_WORKER"):
        from threadpoolctl import threadpool_limits

        config._sklkws_blas_limit = threadpool_limits(1, user_api="blas")
