"""Copy the benchmark tables that the README shows from docs/benchmarks.md into README.md.

``make bench-*`` writes every table between its ``<!-- bench:NAME -->`` markers in
docs/benchmarks.md (``restora bench --readme docs/benchmarks.md``), then runs this script: each
``bench:NAME`` block that README.md also has is replaced by docs/benchmarks.md's, so the headline
tables of the README stay the same as the full record (tests/test_docs.py checks it).
Run from the repository root: ``python benchmarks/readme_tables.py``.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from restora.bench import splice_markdown

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- bench:(?P<name>\S+) -->\n(?P<body>.*?)<!-- /bench:(?P=name) -->", re.S)


def blocks(text: str) -> dict[str, str]:
    """The ``bench:NAME`` blocks of a Markdown text: name -> the text between the markers."""
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


def main(source: Path = ROOT / "docs" / "benchmarks.md", target: Path = ROOT / "README.md") -> None:
    full = blocks(source.read_text())
    for name in blocks(target.read_text()):
        if name not in full:
            sys.exit(f"{target}: table '{name}' is not in {source}")
        splice_markdown(target, name, full[name])
        print(f"{target.name}: {name} copied from {source.name}")


if __name__ == "__main__":
    main()
