"""The folders are layers and every import points down them (README, "Layout").

Read from the source with `ast`, so imports inside functions and under TYPE_CHECKING count too:
a lazy import that points up is still a dependency that stops a layer being read alone.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Bottom to top. A folder may import its own modules and those of lower rows; folders on one row
# are peers and import none of each other. mockserver stands apart: it imports nothing of ours.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("prompts", "storage", "sources", "mockserver"),
    ("replies",),
    ("llm",),
    ("agents",),
    ("graph", "exports"),
    ("evals",),
    ("api",),
    ("cli",),
)
RANK = {folder: rank for rank, row in enumerate(LAYERS) for folder in row}
STANDALONE = {"mockserver"}


def _packages() -> list[str]:
    """The folders pyproject.toml installs (as `reasonmed.<folder>`; `api/` as `reasonmed`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(project["tool"]["setuptools"]["package-dir"].values())


def _modules() -> Iterator[tuple[str, Path]]:
    for folder in _packages():
        for path in sorted((ROOT / folder).glob("*.py")):
            yield folder, path


def _imported_folders(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, folder, dotted name) of every `reasonmed.*` import in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "reasonmed":
                continue
            # `reasonmed` itself and its own modules (`reasonmed.run_api`) live in api/.
            folder = parts[1] if len(parts) > 1 and parts[1] in RANK else "api"
            yield node.lineno, folder, name


def test_every_installed_folder_has_a_layer() -> None:
    assert sorted(_packages()) == sorted(RANK), "place a new folder in LAYERS (and the README)"


def upward_imports(modules: Iterable[tuple[str, Path]], root: Path = ROOT) -> list[str]:
    """Every import in `modules` that points at a higher layer or a peer, as file:line."""
    upward = []
    for folder, path in modules:
        for line, target, name in _imported_folders(path):
            if target == folder:
                continue
            if target in STANDALONE:
                allowed = folder == "cli"
            else:
                allowed = folder not in STANDALONE and RANK.get(target, 99) < RANK[folder]
            if not allowed:
                upward.append(f"{path.relative_to(root)}:{line} imports {name}")
    return upward


def test_imports_point_down_the_layers() -> None:
    assert upward_imports(_modules()) == []


def test_no_relative_imports() -> None:
    """Relative imports would hide a module's layer from the check above."""
    relative = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for _, path in _modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert relative == []


def test_module_names_are_unique() -> None:
    """Two modules never share a name, so a name alone says where a thing lives."""
    seen: dict[str, Path] = {}
    clashes = []
    for _, path in _modules():
        if path.name in ("__init__.py", "__main__.py"):
            continue
        stem = path.stem
        if stem in seen:
            clashes.append(f"{seen[stem].relative_to(ROOT)} ~ {path.relative_to(ROOT)}")
        seen[stem] = path
    clashes += [f"module {stem} shares a folder's name" for stem in seen if stem in RANK]
    assert clashes == []


@pytest.mark.parametrize(
    ("source", "folder", "caught"),
    [
        ("from reasonmed.core.question import Question\n", "agents", None),
        ("from reasonmed.graph.routing import x\n", "agents", "1 imports reasonmed.graph.routing"),
        (
            "def f():\n    from reasonmed.cli.main import x\n",
            "graph",
            "2 imports reasonmed.cli.main",
        ),
        (
            "import reasonmed.exports.jsonl_export\n",
            "graph",
            "1 imports reasonmed.exports.jsonl_export",
        ),
        ("from reasonmed.mockserver.server import x\n", "cli", None),
        (
            "from reasonmed.mockserver.server import x\n",
            "evals",
            "1 imports reasonmed.mockserver.server",
        ),
    ],
)
def test_the_check_sees_upward_imports(
    tmp_path: Path, source: str, folder: str, caught: str | None
) -> None:
    """The checker itself: an upward or sideways import, lazy or not, is caught; a downward one
    is not."""
    (tmp_path / "probe.py").write_text(source, encoding="utf-8")
    found = upward_imports([(folder, tmp_path / "probe.py")], root=tmp_path)
    assert found == ([] if caught is None else [f"probe.py:{caught}"])
