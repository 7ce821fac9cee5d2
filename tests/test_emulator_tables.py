"""The emulator keeps its own tables (written from PROTOCOL.md): they must agree with the client's.

Two independent copies make an error in either one visible: this test names every disagreement,
and a wrong entry in the client's size table is refused by the emulator end to end. The emulator
package must not import the client's tables or signing code at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import jimeng_async as jm
from jimeng_async import drafts, registry
from jimeng_async.config import DEFAULT_REGIONS
from jimeng_async.testing import tables
from jimeng_async.testing.server import Emulator

TESTING = Path(jm.__file__).parent / "testing"
#: Client modules the emulator must never import: tables, Sign, cookies, validation.
CLIENT_TABLES = {"drafts", "registry", "auth", "inputs", "images"}
#: The command line prints a masked token for the user: display, not a check.
ALLOWED = {("__main__.py", "..auth"), ("__main__.py", "..auth.mask_token")}


def disagreements() -> list[str]:
    """Every difference between the client's tables and the emulator's, as readable lines."""
    found: list[str] = []
    if drafts.IMAGE_SIZES != tables.IMAGE_SIZES:
        for key in sorted(set(drafts.IMAGE_SIZES) | set(tables.IMAGE_SIZES)):
            ours, theirs = drafts.IMAGE_SIZES.get(key), tables.IMAGE_SIZES.get(key)
            if ours != theirs:
                found.append(f"image size {key}: client {ours}, emulator {theirs}")
    for alias, image in registry.IMAGE_MODELS.items():
        if image.withdrawn:
            if image.id not in tables.WITHDRAWN_IMAGE_MODELS:
                found.append(f"image model {alias} = {image.id!r}: not withdrawn in the emulator")
            continue
        regions = tables.IMAGE_MODEL_REGIONS.get(image.id)
        if regions is None:
            found.append(f"image model {alias} = {image.id!r} unknown to the emulator")
        elif regions != image.regions:
            found.append(f"image model {alias}: regions {sorted(image.regions)}")
    for alias, video in registry.VIDEO_MODELS.items():
        info = tables.VIDEO_MODELS.get(video.id)
        if info is None:
            found.append(f"video model {alias} = {video.id!r} unknown to the emulator")
            continue
        if video.durations != info.durations:
            found.append(f"video model {alias}: durations {video.durations} vs {info.durations}")
        if video.benefit_type != info.benefit_type:
            found.append(f"video model {alias}: benefit_type should be {info.benefit_type}")
        if video.regions != info.regions:
            found.append(f"video model {alias}: regions {sorted(video.regions)}")
        if video.sends_resolution != info.takes_resolution:
            found.append(f"video model {alias}: sends_resolution {video.sends_resolution}")
        if video.needs_browser_signature != info.guarded:
            found.append(f"video model {alias}: needs_browser_signature disagrees")
    for name, expected in (
        ("VIDEO_RATIOS", tables.VIDEO_RATIOS),
        ("VIDEO_RESOLUTIONS", tables.VIDEO_RESOLUTIONS),
        ("VIDEO_FPS", tables.VIDEO_FPS),
        ("MAX_BLEND_IMAGES", tables.MAX_BLEND_IMAGES),
    ):
        if getattr(drafts, name) != expected:
            found.append(f"{name}: client {getattr(drafts, name)}, emulator {expected}")
    for name, region in tables.REGIONS.items():
        profile = DEFAULT_REGIONS[name]
        for field in ("token_prefix", "aid", "region_param", "store_region", "aws_region"):
            if getattr(profile, field) != getattr(region, field):
                found.append(f"region {name} {field}: client {getattr(profile, field)!r}")
        if profile.service_id != region.service_id:
            found.append(f"region {name} service_id: client {profile.service_id!r}")
    return found


def test_client_and_emulator_tables_agree() -> None:
    assert disagreements() == []


def test_a_changed_size_entry_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(drafts.IMAGE_SIZES, ("16:9", "2k"), (2560, 1400, 3))
    assert disagreements() == [
        "image size ('16:9', '2k'): client (2560, 1400, 3), emulator (2560, 1440, 3)"
    ]


@pytest.mark.anyio
async def test_a_changed_size_entry_is_refused_by_the_emulator(
    jimeng_emulator: Emulator, jimeng_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(drafts.IMAGE_SIZES, ("16:9", "2k"), (2560, 1400, 3))
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as session:
        with pytest.raises(jm.JimengError) as caught:
            await session.submit_image("a harbour", ratio="16:9", resolution="2k")
    assert "2560x1400 is not a 2k size" in str(caught.value)
    assert jimeng_emulator.records == {}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("module", sorted(p.name for p in TESTING.glob("*.py")))
def test_the_emulator_does_not_import_client_tables_or_signing(module: str) -> None:
    imported = _imported_modules(TESTING / module)
    forbidden = {
        name
        for name in imported
        for table in CLIENT_TABLES
        if name in (f"..{table}", f"jimeng_async.{table}") or name.startswith(f"..{table}.")
        if (module, name) not in ALLOWED
    }
    assert forbidden == set(), f"{module} imports {sorted(forbidden)}"
