"""The project's code for Spark executors: the importable packages (``fyplake``, ``jobs``) as one
zip, shipped with every application (``spark.submit.pyFiles``) when the master is a cluster.

Executors on other machines have the same Python environment (the dependencies) but not this
checkout; the zip is what they import our UDFs and ``mapInArrow`` writers from. It is named by
a digest of its contents, so a changed checkout ships a new file and an unchanged one reuses it.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

#: The packages executors import (the library and the jobs); nothing of the application layer.
SHIPPED_PACKAGES = ("fyplake", "jobs")
_ROOT = Path(__file__).resolve().parent.parent


def _sources() -> list[Path]:
    files: list[Path] = []
    for package in SHIPPED_PACKAGES:
        for path in sorted((_ROOT / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    return files


def project_zip(cache_dir: Path) -> Path:
    """The zip of ``SHIPPED_PACKAGES`` under ``cache_dir/code`` (built once per content)."""
    files = _sources()
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(_ROOT)).encode())
        digest.update(path.read_bytes())
    target = Path(cache_dir) / "code" / f"fyplake-{digest.hexdigest()[:16]}.zip"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            zf.write(path, str(path.relative_to(_ROOT)))
    os.replace(tmp, target)
    return target


def ships_code(master: str) -> bool:
    """Whether executors run apart from this process's checkout (any master but local)."""
    return not master.startswith("local")
