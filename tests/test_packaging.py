"""Packaging: a wheel carries data/ and finds it once installed; the requirement files pin what pyproject declares."""
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def canonical(name):
    """A distribution name compared as pip does: case-insensitive, with -, _ and . equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(name):
    """The non-blank, non-comment lines of a requirements file."""
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def declared(extra=None):
    """pyproject's dependencies (or one extra's) as {canonical name: Requirement}."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {canonical(req.name): req for req in map(Requirement, specs)}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A wheel built from a copy of the sources (the checkout's build/ stays out of it) and installed into site/."""
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("helpers", "data"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
                   cwd=tmp, check=True)
    wheel = next((tmp / "dist").glob("*.whl"))
    subprocess.run(pip + ["install", "--no-deps", "--no-index", "--target", str(tmp / "site"), str(wheel)],
                   cwd=tmp, check=True)
    return tmp, wheel


def run_isolated(tmp, code, *extra_path):
    """Python with -I -S (no PYTHONPATH, no site-packages, no .pth: no editable install), sys.path = site/ + extra."""
    path = [str(tmp / "site"), *extra_path]
    script = f"import sys; sys.path[:0] = {path!r}\n{code}"
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script], cwd=tmp, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_wheel_holds_every_module_and_the_data(installed):
    names = set(zipfile.ZipFile(installed[1]).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "helpers").rglob("*.py")}
    data = {"helpers/" + p.relative_to(ROOT).as_posix() for p in (ROOT / "data").rglob("*") if p.is_file()}
    assert {"helpers/core/paths.py", "helpers/data/corpus/train.txt", "helpers/data/corpus/heldout.txt"} <= names
    assert modules - names == set()
    assert data - names == set()


def test_installed_copy_finds_its_data(installed):
    tmp = installed[0]
    code = ("import importlib.util as u\n"
            "root = u.find_spec('helpers').submodule_search_locations[0]\n"  # finds helpers without running __init__
            "spec = u.spec_from_file_location('paths', root + '/core/paths.py')\n"
            "paths = u.module_from_spec(spec); spec.loader.exec_module(paths)\n"
            "print(paths.__file__); print(paths.CORPUS_DIR); print(paths.REFERENCE_DIR)")
    module, corpus, reference = map(Path, run_isolated(tmp, code))
    site = (tmp / "site").resolve()
    assert module.is_relative_to(site) and corpus.is_relative_to(site) and reference.is_relative_to(site)
    assert (corpus / "train.txt").is_file() and (corpus / "heldout.txt").is_file()
    shipped = sorted(p.name for p in reference.glob("*.json"))
    assert shipped == sorted(p.name for p in (ROOT / "data/reference").glob("*.json"))


def test_installed_package_imports(installed):
    tmp = installed[0]
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])  # torch etc., no .pth
    code = "import helpers, helpers.core.paths as p; print(helpers.__file__); print(p.CORPUS_DIR / 'train.txt')"
    package, train = map(Path, run_isolated(tmp, code, *deps))
    assert package.is_relative_to((tmp / "site").resolve()) and train.is_file()


def test_requirements_are_exact_pins_of_the_declared_dependencies():
    lines = requirement_lines("requirements.txt")
    assert lines[-1] == "-e ."
    pins = [PIN.match(line) for line in lines[:-1]]
    assert all(pins), [line for line, pin in zip(lines, pins) if not pin]
    runtime = declared()
    for pin in pins:
        name, version = canonical(pin[1]), pin[2]
        assert name in runtime, f"{pin[1]} is pinned but not a dependency in pyproject.toml"
        assert runtime[name].specifier.contains(version), f"{pin[0]} is outside {runtime[name]}"


def test_test_requirements_pin_the_test_extra():
    lines = requirement_lines("requirements-test.txt")
    assert lines[0] == "-r requirements.txt"
    pins = [PIN.match(line) for line in lines[1:]]
    assert all(pins), lines
    extra = declared("test")
    assert {canonical(pin[1]) for pin in pins} == set(extra)
    for pin in pins:
        assert extra[canonical(pin[1])].specifier.contains(pin[2]), pin[0]


def test_the_cpu_only_torch_lines_name_the_pinned_torch():
    pin = next(line for line in requirement_lines("requirements.txt") if line.startswith("torch=="))
    for name in ("README.md", "requirements.txt"):
        lines = re.findall(r"pip install (torch==\S+) --index-url (\S+?)`", (ROOT / name).read_text(encoding="utf-8"))
        assert lines and set(lines) == {(pin, "https://download.pytorch.org/whl/cpu")}, (name, lines)
    assert "grep -m 1 '^torch==' requirements.txt" in (ROOT / "Makefile").read_text()  # TORCH=cpu reads the pin
