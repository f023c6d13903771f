"""Every docstring example of the installed package runs and gives what it shows.

The examples are collected from the ``rangealloc`` that is imported (the
installed package, pure or compiled), not from the source tree, so the suite
checks what users get.  One test per docstring that has examples.

They are read from the installed ``.py`` files, which the compiled build ships
beside its extensions, and run in the namespace of the imported module: mypyc
keeps no docstrings (``doctest.DocTestFinder`` would find none in a compiled
module), and this way both builds run the same examples, each on its own code.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import io
import pkgutil
from pathlib import Path

import pytest

import rangealloc


def _docstrings(tree: ast.Module, prefix: str) -> list[tuple[str, str, int]]:
    """``(name, docstring, line)`` of the module, its functions, classes, methods (named as doctest does)."""
    found: list[tuple[str, str, int]] = []
    module_doc = ast.get_docstring(tree)
    if module_doc:
        found.append((prefix, module_doc, 0))
    seen: set[str] = set()

    def walk(body: list[ast.stmt], scope: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{scope}.{node.name}"
                doc = ast.get_docstring(node)
                if doc and name not in seen:  # a property's getter, not its setter; an implementation
                    seen.add(name)
                    found.append((name, doc, node.lineno - 1))
                if isinstance(node, ast.ClassDef):
                    walk(node.body, name)

    walk(tree.body, prefix)
    return found


def _doctests() -> list[doctest.DocTest]:
    parser = doctest.DocTestParser()
    found: list[doctest.DocTest] = []
    names = [name for _, name, _ in pkgutil.walk_packages(rangealloc.__path__, "rangealloc.")]
    for name in ["rangealloc", *sorted(names)]:
        if name.endswith("__main__"):
            continue  # importing it runs the command
        module = importlib.import_module(name)
        file = Path(module.__file__ or "")
        source = file if file.suffix == ".py" else file.with_name(name.rpartition(".")[2] + ".py")
        for qualname, doc, line in _docstrings(ast.parse(source.read_text()), name):
            test = parser.get_doctest(doc, dict(module.__dict__), qualname, str(source), line)
            if test.examples:
                found.append(test)
    return sorted(found)


DOCTESTS = _doctests()


def test_the_package_has_docstring_examples() -> None:
    assert len(DOCTESTS) >= 20


@pytest.mark.parametrize("test", DOCTESTS, ids=[test.name for test in DOCTESTS])
def test_docstring_examples(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    output = io.StringIO()
    runner.run(test, out=output.write)
    assert runner.failures == 0, output.getvalue()
