"""The architecture registry knows every built-in name without importing other packages first."""

import subprocess
import sys

import pytest


def test_two_branch_resolves_without_importing_the_ensemble():
    # A fresh interpreter: in this process another test may have imported sklkws.ensemble already.
    code = (
        "import sys\n"
        "from sklkws.models import get_architecture\n"
        "assert 'sklkws.ensemble' not in sys.modules\n"
        "build = get_architecture('two_branch')\n"
        "print(build.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "sklkws.ensemble._two_branch"


def test_unknown_architecture_lists_the_deferred_names():
    from sklkws.models import get_architecture

    with pytest.raises(ValueError, match="two_branch"):
        get_architecture("no_such_net")
