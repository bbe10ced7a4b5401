"""Check, before anything is installed, what `make` cannot install by itself.

Python >= 3.11 and the Pango library (WeasyPrint renders the PDF with it). Exits non-zero with
a message saying how to install what is missing.
"""
import ctypes.util
import sys

problems = []
if sys.version_info < (3, 11):
    problems.append(f"Python 3.11 or newer is needed (this is {sys.version.split()[0]}); "
                    "run `make PYTHON=python3.11 ...` or install it (Debian/Ubuntu: apt-get install python3.11 python3.11-venv).")
try:
    import venv  # noqa: F401
    import ensurepip  # noqa: F401
except ImportError:
    problems.append("The Python venv module is missing (Debian/Ubuntu: apt-get install python3-venv).")
if not ctypes.util.find_library("pango-1.0"):
    problems.append("The Pango library, which WeasyPrint needs to render the PDF, is not installed.\n"
                    "    Debian/Ubuntu: sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0\n"
                    "    Fedora:        sudo dnf install pango\n"
                    "    macOS:         brew install pango\n"
                    "    conda:         conda env create -f environment.yml (brings pango)")
if problems:
    print("livingmeta cannot be set up on this machine yet:", file=sys.stderr)
    for p in problems:
        print(" - " + p, file=sys.stderr)
    sys.exit(1)
