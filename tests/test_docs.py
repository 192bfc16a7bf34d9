"""The README and docs/: every relative link and picture resolves (files and #anchors), the README's
benchmark tables are the same as docs/benchmarks.md's, and the pictures stay small."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")
COMMENT = re.compile(r"<!--.*?-->", re.S)
BLOCK = re.compile(r"<!-- bench:(?P<name>\S+) -->\n(?P<body>.*?)<!-- /bench:(?P=name) -->", re.S)


def prose(text: str) -> str:
    """The text without HTML comments, fenced code blocks and inline code (links there are not links)."""
    return CODE.sub("", FENCE.sub("", COMMENT.sub("", text)))


def anchors(page: Path) -> Iterator[str]:
    """The heading anchors GitHub makes for a Markdown page: lower case, punctuation dropped, spaces
    to hyphens, '-1', '-2', ... for repeats."""
    seen: dict[str, int] = {}
    for line in FENCE.sub("", page.read_text()).splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1)).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        yield slug if count == 0 else f"{slug}-{count}"


def links(page: Path) -> list[str]:
    return [target for target in LINK.findall(prose(page.read_text()))
            if not re.match(r"[a-z][a-z0-9+.-]*:", target, re.I)]  # http:, https:, mailto:


def test_the_pages_exist_and_have_links():
    assert {p.name for p in PAGES} >= {"README.md", "benchmarks.md", "training.md", "protocols.md", "web.md"}
    assert len(links(REPO / "README.md")) >= 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in set(anchors(file)):
            broken.append(f"{target} (no heading #{anchor} in {os.path.relpath(file, REPO)})")
    assert not broken, f"{os.path.relpath(page, REPO)}: " + "; ".join(broken)


def test_readme_benchmark_tables_match_docs_benchmarks():
    """`make bench-*` writes docs/benchmarks.md and copies the README's tables from it
    (benchmarks/readme_tables.py): a README table, or a table row, that differs is stale."""
    readme, full = (REPO / "README.md").read_text(), (REPO / "docs" / "benchmarks.md").read_text()
    full_blocks = {m["name"]: m["body"] for m in BLOCK.finditer(full)}
    readme_blocks = {m["name"]: m["body"] for m in BLOCK.finditer(readme)}
    assert {"denoise-set12", "upscale-set5"} <= readme_blocks.keys()
    for name, body in readme_blocks.items():
        assert body == full_blocks.get(name), f"README table {name} differs from docs/benchmarks.md's"
    summary = readme.split("## How good is it", 1)[1].split("\n## ", 1)[0]
    full_lines = set(full.splitlines())
    rows = [line for line in summary.splitlines() if line.startswith("|")]
    assert rows and all(line in full_lines for line in rows), \
        [line for line in rows if line not in full_lines]


def test_readme_pictures_are_small_pngs():
    pictures = sorted((REPO / "docs" / "images").glob("*.png"))
    assert {p.stem for p in pictures} >= {"denoise", "upscale", "inpaint", "deblur"}
    for picture in pictures:
        assert picture.stat().st_size < 300_000, picture
        assert f"](docs/images/{picture.name})" in (REPO / "README.md").read_text(), f"{picture.name} is not shown"


def test_repository_files_named_in_the_pages_exist():
    """Recipes, scripts and pages named in code spans and commands (configs/..., benchmarks/..., docs/...);
    not in HTML comments, which are notes for the next edit."""
    named = re.compile(r"(?<![\w/.-])(?:configs|benchmarks|tests|src|docs)/[\w./-]+\.(?:yaml|py|md|png|json)")
    missing = {path for page in PAGES for path in named.findall(COMMENT.sub("", page.read_text()))
               if not (REPO / path).exists()}
    assert not missing, sorted(missing)
