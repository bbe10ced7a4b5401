"""Where the installed project's own files are: the one place that finds them from ``__file__``.

livingmeta is installed editable from its repository (``make`` runs ``pip install -e .``), so the
schemas, templates and fonts it ships sit beside the package. A review project is the folder a
command runs in (see ``cli.project_root``); these paths are the install's, not the project's.
"""

from __future__ import annotations

from pathlib import Path

INSTALL_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = INSTALL_ROOT / "workflow" / "schemas"
TEMPLATE_DIR = INSTALL_ROOT / "templates"
FONT_DIR = TEMPLATE_DIR / "fonts"
CSL_STYLE = TEMPLATE_DIR / "csl" / "vancouver.csl"
