"""Where logs go and how much they say."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class LogSettings(BaseModel):
    """Env ``FYP_<NAME>`` or the ``FYP_CONFIG`` file, as every setting."""

    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log files under <home>/logs (fyp.log: the commands' Python log; spark.log: "
        "the Spark driver's, with the JVM's own output): `text` lines or `json` (one object per "
        "line, for a log shipper). The console always gets short text lines.",
    )
