"""The dependency lock (requirements/lock.txt, written by `make lock` with uv): exact versions
and hashes that `make` installs with ``pip install --require-hashes``. The report's software
table names the lock file and says whether the installed packages are exactly its pins."""

from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path

LOCK_FILE = Path("requirements") / "lock.txt"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?\s*$")


def normalise(name: str) -> str:
    """PEP 503 name normalisation, so ``PyYAML`` and ``pyyaml`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lock_path) -> dict[str, tuple[str, str | None]]:
    """normalised name -> (version, environment marker or None) for every pin in the lock."""
    pins = {}
    for line in Path(lock_path).read_text().splitlines():
        m = _PIN.match(line)
        if m:
            pins[normalise(m.group(1))] = (m.group(2), m.group(3))
    return pins


def _applies(marker: str | None) -> bool:
    if not marker:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:  # packaging comes with pip's dependencies in practice; assume it applies
        return True
    return Marker(marker).evaluate()


def installed_mismatches(lock_path) -> list[str]:
    """Pins of the lock that apply here but are not what is installed, as 'name installed (lock v)'."""
    out = []
    for name, (version, marker) in sorted(read_pins(lock_path).items()):
        if not _applies(marker):
            continue
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "missing"
        if have != version:
            out.append(f"{name} {have} (lock {version})")
    return out


def lock_summary(project_root) -> str:
    """One line for the report's software table."""
    path = Path(project_root) / LOCK_FILE
    if not path.is_file():
        return f"none ({LOCK_FILE} not found): versions above are whatever is installed"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    n = len(read_pins(path))
    bad = installed_mismatches(path)
    state = ("every applicable pin is installed" if not bad
             else f"installed packages differ from the lock: {', '.join(bad[:5])}" + (" ..." if len(bad) > 5 else ""))
    return f"{LOCK_FILE.as_posix()} (sha256 {digest}, {n} pins; {state})"
