"""Private scikit-learn / imbalanced-learn names enter sklkws through sklkws/_compat.py only."""

import re
from pathlib import Path

import sklkws

PRIVATE = re.compile(r"^\s*(from|import)\s+(sklearn|imblearn)[\w.]*\._\w+|^\s*from\s+(sklearn|imblearn)[\w.]*\s+import\s+.*\b_\w+")


def test_private_imports_only_in_compat():
    root = Path(sklkws.__file__).parent
    offenders = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        if path.name != "_compat.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert not offenders, "import these through sklkws._compat:\n" + "\n".join(offenders)


def test_compat_names_resolve():
    from sklkws import _compat

    for name in _compat.__all__:
        assert getattr(_compat, name) is not None
