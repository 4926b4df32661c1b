"""Every docstring example in the package runs and prints what it says it prints."""

import doctest
import importlib
import pkgutil

import pytest

import sklkws

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(sklkws.__path__, prefix="sklkws.") if name != "sklkws.__main__"
)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        if test.examples:
            runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples in {name} failed (printed above)"
