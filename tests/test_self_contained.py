"""The project stands alone: its code, comments and documents name no file outside it (the
notes its authors worked from are not part of a clone)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.processes import ROOT

OUTSIDE = re.compile(r"DESIGN\.md|AVQA\.md|STYLE\.md|\.\./shared|music-avqa-paper\.md")
SKIPPED = {".git", ".venv", "var", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache"}
TEXT = {".py", ".md", ".txt", ".html", ".js", ".css", ".yml", ".yaml", ".toml", ".cfg", ""}


@pytest.mark.slow
def test_no_file_points_outside_the_repository():
    found = []
    for path in sorted(ROOT.rglob("*")):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIPPED or not path.is_file() or path.suffix not in TEXT:
            continue
        if path == Path(__file__):
            continue  # this test names them
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
