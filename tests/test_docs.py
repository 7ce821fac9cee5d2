"""The docs stay true to the code: exit codes, links, and the wheel shipping LICENSE."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from jimeng_async.cli import build_parser, exits

ROOT = Path(__file__).resolve().parent.parent


def test_cli_doc_and_help_list_every_exit_code() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", doc, re.MULTILINE))
    assert {int(code): meaning for code, meaning in table.items()} == dict(exits.TABLE)
    help_text = build_parser().format_help()
    for code, meaning in exits.TABLE:
        assert f"{code:>3}  {meaning}" in help_text


def test_relative_links_in_markdown_point_at_files() -> None:
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


@pytest.mark.timeout(300)
def test_the_wheel_ships_the_license(tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("jimeng_async-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), names
    metadata = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    assert "Programming Language :: Python :: 3.13" in metadata
    assert "Project-URL: Changelog" in metadata
