"""Where state lives: the FYP_HOME and the user-level cache every clone shares."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

#: The checkout this code runs from (dags/, sql/, the default FYP_HOME).
REPO_ROOT = Path(__file__).resolve().parents[2]


class StateSettings(BaseModel):
    """Env ``FYP_<NAME>`` or the ``FYP_CONFIG`` file, as every setting."""

    home: Path = Field(
        default=REPO_ROOT / ".fyp",
        description="State directory: embedded services' data, local lake, media, Airflow home.",
    )
    cache_dir: Path = Field(
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fyplake",
        description="User-level cache shared by every clone (Delta/Spark jars).",
    )
