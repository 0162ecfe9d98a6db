"""The house holds: floors import only downward, and one import namespace in every install layout.

Floors (ARCHITECTURE.md): core ← domain (sim, teleop, planner_node, world_model_node) ← app;
testing is support for tests, scripts and `wmp run`, and nothing in core or the domain imports it.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOMAIN = ("sim", "teleop", "planner_node", "world_model_node")
PKG = "world_model_planner"

# floor of a module -> floors it may import from
ALLOWED = {
    "core": {"core"},
    "domain": {"core", "domain"},
    "app": {"core", "domain", "app", "testing"},
    "testing": {"core", "domain", "app", "testing"},
}


def _floor(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != PKG or len(parts) < 2:
        return None
    if parts[1] in DOMAIN:
        return "domain"
    if parts[1] in ("core", "app", "testing"):
        return parts[1]
    return None


def _modules():
    """(dotted module name, file) for every module of the package, source-tree layout."""
    for f in sorted((REPO / PKG).rglob("*.py")):
        rel = f.relative_to(REPO).with_suffix("")
        yield ".".join(rel.parts), f
    for d in DOMAIN:
        for f in sorted((REPO / d).rglob("*.py")):
            rel = f.relative_to(REPO / d).with_suffix("")
            yield ".".join((PKG, d, *rel.parts)), f


def _imports(module: str, path: Path):
    """Every absolute module name ``path`` imports, at any depth (lazy imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target
            for a in node.names:                    # `from pkg import submodule`
                yield node.lineno, f"{target}.{a.name}"


def floor_violations() -> list[str]:
    bad = []
    for module, path in _modules():
        own = _floor(module)
        if own is None:
            continue
        for lineno, target in _imports(module, path):
            other = _floor(target)
            if other is not None and other not in ALLOWED[own]:
                bad.append(f"{path.relative_to(REPO)}:{lineno}: {own} imports {other} ({target})")
    return sorted(set(bad))


def test_floors_hold():
    assert floor_violations() == []


def test_the_floor_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself can fail: a core module importing app is reported."""
    fake = tmp_path / PKG / "core"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from world_model_planner.app import stack\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert floor_violations() == [f"{PKG}/core/bad.py:2: core imports app (world_model_planner.app)",
                                  f"{PKG}/core/bad.py:2: core imports app (world_model_planner.app.stack)"]


def test_a_wheel_installs_one_namespace(tmp_path):
    """A normal install: every module lands under world_model_planner/, nothing generic."""
    src = tmp_path / "src"                          # build from a copy: setuptools writes build/
    for name in (PKG, *DOMAIN, "setup.py", "setup.cfg", "package.xml", "resource", "launch", "config",
                 "models"):
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(
            REPO / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                        if (REPO / name).is_dir() else {}))
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "-q", "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    modules = [n for n in names if n.endswith(".py")]
    tops = {n.split("/")[0] for n in modules if ".data/" not in n}
    assert tops == {PKG}, tops
    for d in DOMAIN:                                 # every source module is in the wheel
        for f in (REPO / d).rglob("*.py"):
            assert f"{PKG}/{d}/{f.relative_to(REPO / d).as_posix()}" in modules, f
    for f in (REPO / PKG).rglob("*.py"):
        assert f.relative_to(REPO).as_posix() in modules, f
    assert f"{PKG}/sim/scenario.py" in modules and f"{PKG}/core/params.py" in modules
    # every shipped model, classic_id fit and card lands in share/ (where an installed planner
    # looks for them: core.paths.models_dir)
    shared = {n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n}
    for f in (REPO / "models").iterdir():
        assert f"share/{PKG}/models/{f.name}" in shared, f


def test_symlink_layout_imports_through_the_package(tmp_path):
    """A colcon --symlink-install style tree (symlinks to the sources) imports the domain
    packages as world_model_planner.<pkg> from that tree."""
    build = tmp_path / "build"
    build.mkdir()
    for name in (PKG, *DOMAIN, "package.xml", "config", "models"):
        os.symlink(REPO / name, build / name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import world_model_planner.sim.scenario as s, world_model_planner.core.paths as p;"
            "print(s.__file__); print(p.share_dir())")
    env = dict(os.environ, PYTHONPATH=str(build))
    out = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    module_file, share = out.stdout.split()
    assert module_file.startswith(str(build)), module_file
    assert Path(share, "config").is_dir()


@pytest.mark.parametrize("name", DOMAIN)
def test_no_generic_top_level_module_is_installed(name, tmp_path):
    """Outside the source tree, `import sim` finds nothing of ours."""
    out = subprocess.run([sys.executable, "-c", f"import importlib.util as u; s = u.find_spec({name!r});"
                          f"print(s.origin if s else 'none')"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert not out.stdout.strip().startswith(str(REPO)), out.stdout
