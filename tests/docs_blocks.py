"""Read the code blocks of README.md and docs/, and compare what they print with what they show.

Used by ``tests/test_docs_blocks.py``; kept apart so that its planted-mismatch tests
can feed a page's text to the same functions the docs test uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(\{(?P<directive>[\w-]+)\}\s*)?(?P<rest>.*)$")
_RST_DIRECTIVE = re.compile(
    r"^(?P<indent>\s*)\.\. (?P<directive>code-block|code|sourcecode|literalinclude|include|"
    r"doctest|testcode|testoutput)::\s*(?P<rest>.*)$")


@dataclass(frozen=True)
class Block:
    """One code block of a page.

    ``lang`` is the language (``python``, ``bash``, ``text``, ...), ``directive``
    the MyST/reST directive it was written with (``code-block``, ``include``,
    ``literalinclude``, ``toctree``; empty for a plain fence), ``arg`` the
    directive's argument when it is not a language (an included file),
    ``options`` its ``:key: value`` lines.
    """

    page: str
    line: int
    lang: str
    directive: str
    arg: str
    body: str
    options: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _options(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    while lines and re.match(r"^:[\w-]+:", lines[0]):
        key, _, value = lines.pop(0)[1:].partition(":")
        options[key] = value.strip()
    return options, lines


def markdown_blocks(text: str, page: str) -> list[Block]:
    """Every fenced block of a Markdown (MyST) page, in order."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, start = match.group(1), i
        close = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        i += 1
        body: list[str] = []
        while i < len(lines) and not close.match(lines[i]):
            body.append(lines[i])
            i += 1
        i += 1
        directive, rest = match.group("directive") or "", match.group("rest").strip()
        options, body = _options(body) if directive else ({}, body)
        is_lang = directive in ("", "code-block", "code", "code-cell")
        blocks.append(Block(page, start + 1, rest if is_lang else "",
                            "" if directive == "code" else directive,
                            "" if is_lang else rest, "\n".join(body) + "\n", options))
    return blocks


def rst_blocks(text: str, page: str) -> list[Block]:
    """The code, include and literal (``::``) blocks of a reStructuredText page."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        match = _RST_DIRECTIVE.match(line)
        literal = re.search(r"(^|[^:])::\s*$", line) and not line.lstrip().startswith("..")
        if not match and not literal:
            continue
        indent = len(line) - len(line.lstrip())
        j, body = i + 1, []
        while j < len(lines) and (not lines[j].strip()
                                  or len(lines[j]) - len(lines[j].lstrip()) > indent):
            body.append(lines[j])
            j += 1
        while body and not body[-1].strip():
            body.pop()
        content = [b for b in body if b.strip()]
        margin = min((len(b) - len(b.lstrip()) for b in content), default=0)
        body = [b[margin:] for b in body]
        options, body = _options([b for b in body if b.strip() or body.index(b) > 0])
        if match:
            directive, rest = match.group("directive"), match.group("rest").strip()
            is_lang = directive in ("code-block", "code", "sourcecode")
            blocks.append(Block(page, i + 1, rest if is_lang else "", "code-block"
                                if is_lang else directive, "" if is_lang else rest,
                                "\n".join(body).strip("\n") + "\n", options))
        else:
            blocks.append(Block(page, i + 1, "text", "literal", "",
                                "\n".join(body).strip("\n") + "\n"))
    return blocks


def page_blocks(path: Path) -> list[Block]:
    """The blocks of a page of the repository, named by its path from the root."""
    page = path.relative_to(ROOT).as_posix()
    reader = rst_blocks if path.suffix == ".rst" else markdown_blocks
    return reader(path.read_text(), page)


def pages() -> list[Path]:
    """README.md and every Markdown and reST page under docs/ (the built site left out)."""
    found = [ROOT / "README.md", *sorted(DOCS.rglob("*.md")), *sorted(DOCS.rglob("*.rst"))]
    return [p for p in found if "_build" not in p.parts]


# --------------------------------------------------------------------------
# printed output
# --------------------------------------------------------------------------
#: What may differ between a run and the page, and nothing else: a run's
#: duration ("time: 0.41s", "(79s)", "12.3 s") and the temporary folder a test ran in.
_DURATION = re.compile(r"(?<![\w.])\d+(\.\d+)?\s?(s|ms|min)\b")


def normalised(text: str, folder: str | Path | None = None) -> str:
    """``text`` with durations replaced by ``N s`` and ``folder`` by ``.``; ends stripped."""
    if folder is not None:
        text = text.replace(f"{folder}/", "").replace(str(folder), ".")
    text = _DURATION.sub("N s", text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def output_mismatch(printed: str, shown: str, folder: str | Path | None = None) -> str | None:
    """None when ``printed`` is what ``shown`` shows; else a diff saying where it differs.

    A line ``...`` in ``shown`` stands for any number of printed lines (the page
    leaves them out on purpose); every other line must be equal once
    :func:`normalised`, but for numbers printed at full precision
    (:func:`same_line`).
    """
    got = normalised(printed, folder).splitlines()
    want = normalised(shown, folder).splitlines()
    if _lines_match(got, want):
        return None
    import difflib

    return "\n".join(difflib.unified_diff(want, got, "shown on the page", "printed",
                                          lineterm=""))


#: A number as printed: sign, digits, fraction, exponent.
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
#: Relative difference allowed between two numbers printed at full precision
#: (six or more significant digits): the same model computes its last float32
#: bits differently on CPUs whose BLAS kernels differ (one float32 step, about
#: 1e-7, seen between two machines of this project), so a page written on one
#: machine is checked on another.  A few float32 steps; numbers printed with
#: fewer digits (scores rounded to 3 or 4 places) must be equal.
FULL_PRECISION_RTOL = 1e-6


def _significant_digits(number: str) -> int:
    mantissa = re.split(r"[eE]", number)[0].lstrip("+-").replace(".", "").lstrip("0")
    return len(mantissa)


def _same_number(got: str, want: str) -> bool:
    if got == want:
        return True
    if max(_significant_digits(got), _significant_digits(want)) < 6:
        return False
    a, b = float(got), float(want)
    return abs(a - b) <= FULL_PRECISION_RTOL * max(abs(a), abs(b))


def same_line(got: str, want: str) -> bool:
    """Whether a printed line is the page's: equal but for full-precision numbers.

    Text between numbers must be equal; numbers equal as written, or both
    within :data:`FULL_PRECISION_RTOL` of each other when either is printed
    with six or more significant digits.
    """
    got_numbers, want_numbers = _NUMBER.findall(got), _NUMBER.findall(want)
    return (_NUMBER.split(got) == _NUMBER.split(want)
            and len(got_numbers) == len(want_numbers)
            and all(map(_same_number, got_numbers, want_numbers)))


def _lines_match(got: list[str], want: list[str]) -> bool:
    if not want:
        return not got
    if want[0] == "...":
        return any(_lines_match(got[k:], want[1:]) for k in range(len(got) + 1))
    return bool(got) and same_line(got[0], want[0]) and _lines_match(got[1:], want[1:])


def output_comments(code: str) -> list[tuple[str, str]]:
    """Split a Python block at its ``print(...)`` lines followed by ``# output`` comments.

    Returns ``(code up to and including the print, the commented output)``
    pairs, and a last pair of the remaining code with ``""``.
    """
    lines = code.splitlines()
    parts, start, i = [], 0, 0
    while i < len(lines):
        if lines[i].startswith("print(") and i + 1 < len(lines) \
                and lines[i + 1].startswith("# "):
            j = i + 1
            while j < len(lines) and lines[j].startswith("# "):
                j += 1
            parts.append(("\n".join(lines[start:i + 1]) + "\n",
                          "\n".join(line[2:] for line in lines[i + 1:j])))
            start = i = j
        else:
            i += 1
    parts.append(("\n".join(lines[start:]) + "\n", ""))
    return parts


def commands(body: str) -> list[tuple[str, str]]:
    """The commands of a shell block: ``(command, its trailing comment)`` pairs.

    Continuation lines are joined; a ``console`` block's ``$ `` prompts are
    dropped (lines without one are output, and not returned).
    """
    joined = body.replace("\\\n", " ")
    prompt = any(line.startswith("$ ") for line in joined.splitlines())
    out = []
    for line in joined.splitlines():
        if prompt:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        command, _, comment = _split_comment(line)
        if command.strip():
            out.append((" ".join(command.split()), comment.strip()))
    return out


def _split_comment(line: str) -> tuple[str, str, str]:
    """``line`` cut at its first ``#`` outside quotes."""
    quote = None
    for k, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (k == 0 or line[k - 1].isspace()):
            return line[:k], "#", line[k + 1:]
    return line, "", ""
