"""Run every Python snippet of README.md and check that it prints what the README shows.

Each ```python block is followed by a plain ``` block holding its output. A block runs in a
fresh namespace, in a temporary working folder (snippets may write files), with matplotlib's
Agg backend. Printed output must equal the README's, line for line; trailing spaces are
ignored, since pandas pads some table lines with them and editors strip them.
"""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

# A ```python block, then (after blank lines only) the ``` block of its output.
SNIPPET = re.compile(r"^```python\n(.*?)^```\n\s*^```\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def _snippets():
    text = README.read_text(encoding="utf-8")
    found = SNIPPET.findall(text)
    if len(found) != text.count("```python"):
        raise ValueError("Every ```python block of README.md must be followed by its output.")
    ids = []
    for code, _ in found:
        # Name each case after the README section it sits in.
        heading = re.findall(r"^## (.+)$", text[: text.index(code)], re.MULTILINE)[-1]
        ids.append(re.sub(r"\W+", "-", heading.lower()).strip("-"))
    return [
        pytest.param(code, output, id=name) for (code, output), name in zip(found, ids, strict=True)
    ]


def _lines(text):
    return [line.rstrip() for line in text.rstrip("\n").splitlines()]


@pytest.mark.parametrize(("code", "expected"), _snippets())
def test_readme_snippet_prints_what_the_readme_shows(code, expected, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib").use("Agg")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {"__name__": "__main__"})
    assert _lines(printed.getvalue()) == _lines(expected)
