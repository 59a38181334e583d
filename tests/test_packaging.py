"""The built wheel carries the grammar and the zoo: installed with pip into a fresh virtual
environment that holds nothing but the wheel and its runtime dependencies, and run from
another directory, it parses and analyses, and its ``symcnn`` command runs.

Works in a fresh venv (setuptools 65, no ``wheel`` package): the wheel is built with build
isolation, so pip fetches the build backend ``pyproject.toml`` asks for (setuptools>=68)
from the package index. The source is copied first, so that the build never writes into
the checkout (build/, *.egg-info) that other test runs may be reading.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
RUNTIME = ("sympy", "mpmath", "lark")  # the runtime dependencies, and sympy's own
BIN = "Scripts" if os.name == "nt" else "bin"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src") / "symcnn"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(out), str(src)], timeout=600, capture_output=True,
                          text=True, env=_clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    (whl,) = out.glob("symcnn-*.whl")
    return whl


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "symcnn/grammar/symcnn.lark" in names
    assert {f"symcnn/zoo/vgg{n}.cnn" for n in (11, 13, 16, 19)} <= names
    assert "symcnn/py.typed" in names
    assert {"symcnn/torch/__init__.py", "symcnn/cli.py"} <= names
    meta = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    requires = [l for l in text.splitlines() if l.startswith("Requires-Dist:")
                and "extra ==" not in l]
    assert sorted(r.split()[1].split(">")[0] for r in requires) == ["lark", "sympy"]


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    """A new venv (no system site-packages) with pip, the wheel installed by pip, and
    sympy, mpmath and lark linked in from this interpreter: nothing else (no torch,
    no numpy, no checkout on the path)."""
    env = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=True).create(env)
    py = env / BIN / "python"
    site = Path(subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True, timeout=120, env=_clean_env()).stdout.strip())
    for name in RUNTIME:
        spec = importlib.util.find_spec(name)
        assert spec and spec.submodule_search_locations, f"{name} is not installed here"
        (site / name).symlink_to(Path(spec.submodule_search_locations[0]),
                                 target_is_directory=True)
    done = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=300,
                          env=_clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    return env


def _clean_env() -> dict:
    """The environment without PYTHONPATH/PYTHONHOME: a checkout (or anything else) on
    the path must not leak into the build or the fresh venv."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _run(argv, cwd):
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=300,
                          env=_clean_env())


@pytest.mark.parametrize("label, code, expected", [
    ("analyze from the wheel, not the checkout",
     "import symcnn, pathlib, sys; r = symcnn.analyze('vgg16', '224x224x3'); "
     "print(r.totals['params'], pathlib.Path(symcnn.__file__).is_relative_to(sys.prefix), "
     "'torch' in sys.modules)",
     ["138357544", "True", "False"]),
    ("the grammar ships: notation parses",
     "import symcnn; print(symcnn.analyze('conv3-64x2 pool fc10', '32x32x3').totals['params'])",
     ["202570"]),
    ("nothing but the runtime dependencies",
     "import importlib.util as u; print([m for m in ('torch', 'numpy', 'matplotlib', "
     "'pytest') if u.find_spec(m)])",
     ["[]"]),
])
def test_fresh_venv_imports_from_elsewhere(fresh_venv, tmp_path, label, code, expected):
    done = _run([str(fresh_venv / BIN / "python"), "-I", "-c", code], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected, label


@pytest.mark.parametrize("argv, code, needle", [
    (["vgg16", "--input", "224x224x3"], 0, "Total params:          138,357,544"),
    (["--list"], 0, "resnet50"),
    (["resnet5O"], 2, "did you mean resnet50?"),
    (["verify", "vgg11", "--input", "32x32x3"], 2, "verify needs PyTorch"),
])
def test_fresh_venv_console_script(fresh_venv, tmp_path, argv, code, needle):
    done = _run([str(fresh_venv / BIN / "symcnn"), *argv], tmp_path)
    assert done.returncode == code, done.stderr
    assert needle in done.stdout + done.stderr and "Traceback" not in done.stderr
