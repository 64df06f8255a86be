"""The package installs offline with pip (--no-build-isolation: Debian's
setuptools, nothing fetched) and, installed, finds the library it was
installed with and the demo model beside it, with no environment set."""
import os
import shutil
import subprocess
import sys

from conftest import ROOT


def test_pip_install_offline_then_import(tmp_path):
    source = tmp_path / "python"
    shutil.copytree(os.path.join(ROOT, "python"), source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site"
    library = os.environ["LOUPE_LIBRARY"]
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONPATH", "LOUPE_LIBRARY", "LOUPE_EXECUTABLE", "LOUPE_MODEL")}
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                           "--target", str(target), str(source)], capture_output=True, text=True,
                          env={**environment, "LOUPE_LIBRARY": library, "PIP_NO_CACHE_DIR": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = (target / "loupe" / "_install_paths.py").read_text()
    assert repr(os.path.abspath(library)) in recorded
    check = ("import loupe, loupe._library as l; print(l.LIBRARY_PATH); "
             "print(loupe.Model().lens('And God said').kl_final.shape)")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path,
                          env={**environment, "PYTHONPATH": str(target)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [os.path.abspath(library), "(7, 3)"]


def test_a_missing_library_is_named():
    environment = {**os.environ, "LOUPE_LIBRARY": "/nonexistent/libloupe.so"}
    done = subprocess.run([sys.executable, "-c", "import loupe"], capture_output=True, text=True, env=environment)
    assert done.returncode != 0
    assert "cannot load $LOUPE_LIBRARY" in done.stderr and "/nonexistent/libloupe.so" in done.stderr
