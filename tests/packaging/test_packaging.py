"""What ``pip install`` ships: every source folder and every file the code reads at run
time (the demo page, the migration template). The wheel is built from a copy of the
project, as an installer would build it, so a folder added under ``src`` and missed by
the packaging fails here rather than in the first deployment that imports it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
# What building the package reads besides src/: the Dockerfile copies the same.
BUILD_FILES = ("pyproject.toml", "setup.py", "README.md", "LICENSE")


def shipped_by_the_source() -> set[str]:
    """Paths inside the wheel, as ``presence_gateway/...``, of every file under ``src``."""
    files = set()
    for path in SRC.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.add("presence_gateway/" + path.relative_to(SRC).as_posix())
    return files


def build_wheel(tmp_path: Path) -> zipfile.ZipFile:
    project = tmp_path / "project"
    project.mkdir()
    for name in BUILD_FILES:
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(SRC, project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(project)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("presence_gateway-*.whl")
    return zipfile.ZipFile(wheel)


def test_the_wheel_holds_every_package_and_data_file_under_src(tmp_path: Path) -> None:
    packages = {p.parent for p in SRC.rglob("__init__.py") if "__pycache__" not in p.parts}
    assert SRC / "service_layer" in packages and len(packages) > 5  # the walk itself found them

    names = set(build_wheel(tmp_path).namelist())

    missing = sorted(shipped_by_the_source() - names)
    assert not missing, f"not installed: {missing}"
    for package in packages:
        assert "presence_gateway/" + (package.relative_to(SRC) / "__init__.py").as_posix() in names


def test_the_image_copies_what_the_build_reads() -> None:
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copied.update(line.split()[1:-1])
    assert set(BUILD_FILES) | {"src"} <= copied
