"""The built wheel carries the grammar and the zoo: installed into a fresh virtual
environment and run from another directory, it parses and analyses."""

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # No build isolation: use the setuptools already installed (no download needed).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True, timeout=300,
                   capture_output=True)
    (whl,) = out.glob("symcnn-*.whl")
    return whl


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "symcnn/grammar/symcnn.lark" in names
    assert {f"symcnn/zoo/vgg{n}.cnn" for n in (11, 13, 16, 19)} <= names
    assert "symcnn/py.typed" in names
    meta = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    requires = [l for l in text.splitlines() if l.startswith("Requires-Dist:")
                and "extra ==" not in l]
    assert sorted(r.split()[1].split(">")[0] for r in requires) == ["lark", "sympy"]


def test_fresh_venv_parses_from_elsewhere(wheel, tmp_path):
    env = tmp_path / "venv"
    # The venv sees site-packages only for sympy and lark; symcnn comes from the wheel.
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env)
    py = env / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)  # a wheel is installed by unpacking it into site-packages
    probe = ("import symcnn, pathlib; r = symcnn.analyze('vgg16', '224x224x3'); "
             "print(r.totals['params'], pathlib.Path(symcnn.__file__).parent.parent == "
             f"pathlib.Path({str(ROOT)!r}))")
    done = subprocess.run([str(py), "-I", "-c", probe], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["138357544", "False"]
