"""Every docstring example of the installed package runs and gives what it shows.

The examples are collected from the ``rangealloc`` that is imported (the
installed package, pure or compiled), not from the source tree, so the suite
checks what users get.  One test per docstring that has examples.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest

import rangealloc


def _doctests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder()
    found: list[doctest.DocTest] = []
    names = [name for _, name, _ in pkgutil.walk_packages(rangealloc.__path__, "rangealloc.")]
    for name in ["rangealloc", *sorted(names)]:
        if name.endswith("__main__"):
            continue  # importing it runs the command
        module = importlib.import_module(name)
        found += [test for test in finder.find(module, name) if test.examples]
    return found


DOCTESTS = _doctests()


def test_the_package_has_docstring_examples() -> None:
    assert len(DOCTESTS) >= 20


@pytest.mark.parametrize("test", DOCTESTS, ids=[test.name for test in DOCTESTS])
def test_docstring_examples(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    output = io.StringIO()
    runner.run(test, out=output.write)
    assert runner.failures == 0, output.getvalue()
