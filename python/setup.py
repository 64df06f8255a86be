"""Installs the loupe package and records which libloupe.so it was
installed with: $LOUPE_LIBRARY if set, else ../build/libloupe.so of the
source tree this folder sits in (scripts/setup.sh builds it). Nothing is
compiled here: the package binds the library at import time with cffi."""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def installed_library():
    library = os.environ.get("LOUPE_LIBRARY") or os.path.join(os.path.dirname(HERE), "build", "libloupe.so")
    library = os.path.abspath(library)
    if not os.path.exists(library):
        raise SystemExit(f"loupe: {library} does not exist: build loupe first (scripts/setup.sh), "
                         "or set LOUPE_LIBRARY to an installed libloupe.so")
    return library


class build_py_with_library(build_py):
    """Writes loupe/_install_paths.py into the built package."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "loupe", "_install_paths.py")
        with open(target, "w", encoding="utf-8") as file:
            file.write('"""Written at install time by setup.py."""\n')
            file.write(f"LIBRARY = {installed_library()!r}\n")


setup(cmdclass={"build_py": build_py_with_library})
