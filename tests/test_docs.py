"""The documentation: README.md stays a front page, every relative link in README.md and docs/
resolves (files and heading anchors), and the README's Python example runs."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from conftest import speech_like

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_README_LINES = 220

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# [text](target) and ![alt](target); the target may be <...> and may carry a "title"
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def markdown_files() -> list[Path]:
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]


def prose_lines(text: str):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * len(m.group(1))
            elif m.group(1).startswith(fence):
                fence = None
            continue
        if fence is None:
            yield number, line


def strip_code_spans(line: str) -> str:
    return re.sub(r"(`+)(.+?)\1", "", line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (links reduced to their text, no markup),
    lowercased, punctuation other than '-' and '_' dropped, spaces turned into '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.lower()
    text = "".join(c for c in text if c in "-_ " or unicodedata.category(c)[0] in "LNM")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def links(path: Path):
    """(line number, target) of every link outside code blocks and code spans."""
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for m in LINK.finditer(strip_code_spans(line)):
            yield number, m.group(1).strip("<>")


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for number, target in links(path):
        if EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        where = f"{path.relative_to(root)}:{number}: {target}"
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{where}: no such file")
        elif anchor and dest.suffix == ".md" and dest.is_file() and anchor not in anchors(dest):
            problems.append(f"{where}: no heading #{anchor} in {dest.relative_to(root)}")
    return problems


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    assert broken_links(path) == []


def test_link_checker_catches_a_bad_file_and_a_bad_anchor(tmp_path):
    (tmp_path / "b.md").write_text("# A heading, with `code` & punctuation\n\n## A heading, with `code` & punctuation\n")
    page = tmp_path / "a.md"
    page.write_text(
        "[ok](b.md#a-heading-with-code--punctuation) [ok](b.md#a-heading-with-code--punctuation-1) "
        "[web](https://example.org/x) [mail](mailto:x@example.org)\n"
        "```\n[in code](missing.md)\n```\n"
        "[bad file](missing.md) [bad anchor](b.md#nowhere)\n"
    )
    problems = broken_links(page, root=tmp_path)
    assert len(problems) == 2, problems
    assert "missing.md: no such file" in problems[0] and "#nowhere" in problems[1]


def test_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


def test_readme_keeps_the_two_commands():
    text = README.read_text(encoding="utf-8")
    first_bash = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    assert "bash scripts/setup.sh && .venv/bin/snakemake --cores all" in first_bash
    assert "bash scripts/test.sh" in first_bash


def readme_python_example() -> str:
    m = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert m, "README.md has no ```python block"
    return m.group(1)


def replace_once(code: str, old: str, new: str) -> str:
    assert old in code, f"README's Python example no longer contains {old!r}; update tests/test_docs.py"
    return code.replace(old, new)


def test_readme_python_example_runs(tmp_path, monkeypatch):
    from sirenpipe.audio import write_wav

    seconds, rate = 1.0, 16000
    clip_path = tmp_path / "clip.wav"
    write_wav(clip_path, speech_like(rate, seconds), rate)
    stream_path = tmp_path / "out.sirn"

    code = readme_python_example()
    code = replace_once(code, '"speech.wav"', repr(str(clip_path)))
    code = replace_once(code, '"speech.sirn"', repr(str(stream_path)))
    code = replace_once(code, '"siamese-siren"', '"siamese-2x64-1x32"')  # a small model ...
    code = replace_once(code, "steps=2500", "steps=20")  # ... and a short fit, for test time

    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)

    assert stream_path.stat().st_size > 0
    clip, decoded = namespace["clip"], namespace["decoded"]
    assert len(clip.samples) == round(seconds * clip.sample_rate)
    assert decoded.signal.shape == (len(clip.samples),)
    assert np.all(np.isfinite(decoded.signal))
