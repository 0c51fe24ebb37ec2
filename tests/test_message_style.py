"""One message style for every error and warning ensemblekit raises.

The style (docs/contributing.md): a message starts in lower case, as Python's
and numpy's own do (``"plugin 'x' failed in hook ..."``), unless it starts with
a name written as in code (``WeightedMean has ...``, ``Dropout(rate=...)``,
``L-BFGS ...``) or is scikit-learn's own message, kept word for word so that
code and tests written against ``sklearn.neural_network`` keep matching it.
The test reads the first string of every ``raise X(...)`` and
``warnings.warn(...)`` in the package's source (AST, no import).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).parents[1] / "ensemblekit"

#: scikit-learn's messages, reproduced verbatim: its own test_mlp.py matches the MLP's,
#: and its estimator checks match the two a transformer gives (ColumnSchema).
SKLEARN_VERBATIM = (
    "Solver produced non-finite parameter weights.",
    "The validation set is too small.",
    "Stochastic Optimizer: Maximum iterations",
    "Got `batch_size`=",
    "Invalid parameter ",
    "Complex data not supported",
    "X has ",
)


def _messages(root: pathlib.Path) -> list[tuple[str, int, str]]:
    """(file, line, message start) of every raise / warnings.warn with a literal message."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            call = None
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                call = node.exc
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "warn"):
                call = node
            if call is None or not call.args:
                continue
            first = call.args[0]
            if isinstance(first, ast.JoinedStr) and first.values:
                first = first.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value:
                found.append((str(path.relative_to(root.parent)), node.lineno, first.value))
    return found


def style_problem(message: str) -> str | None:
    """Why ``message`` breaks the style, or None."""
    word = message.split(maxsplit=1)[0]
    if not word[0].isupper():
        return None
    if any(c.isupper() for c in word[1:]) or "(" in word:  # a name as written in code
        return None
    if message.startswith(SKLEARN_VERBATIM):
        return None
    return f"starts with a capital: {message[:50]!r}"


@pytest.mark.parametrize("message, ok", [
    ("plugin 'x' failed", True), ("WeightedMean has 3 weights", True),
    ("Dropout(rate=0.5) with lbfgs", True), ("L-BFGS produced", True),
    ("MC dropout needs", True), ("Solver produced non-finite parameter weights. x", True),
    ("Unknown plugin 'x'", False), ("The model file", False),
])
def test_the_rule_itself(message, ok):
    assert (style_problem(message) is None) is ok


def test_every_message_follows_the_style():
    messages = _messages(PACKAGE)
    assert len(messages) > 100  # the scan sees the package's messages
    problems = [f"{f}:{line}: {style_problem(m)}" for f, line, m in messages
                if style_problem(m)]
    assert not problems, "\n".join(problems)
