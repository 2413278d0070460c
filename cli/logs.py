"""The commands' Python logging: short lines on the console (warnings, or more with -v), every
INFO detail in ``<home>/logs/fyp.log`` (text, or JSON lines with ``FYP_LOG_FORMAT=json``).
The Spark driver's own log is ``<home>/logs/spark.log`` (``infra/spark.py``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
FILE_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
#: Loggers whose INFO is library chatter, not what a job did (GX's alone was 434 of the 513
#: lines a 60-user `fyp build` left in fyp.log).
QUIET = ("py4j", "httpx", "urllib3", "great_expectations")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, pid, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class LazyFileHandler(logging.FileHandler):
    """A file handler that creates its folder (and file) only when the first record comes,
    so `fyp --help` leaves no trace."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, delay=True)

    def _open(self):  # noqa: ANN202 - logging's own signature
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def setup_logging(verbose: int) -> None:
    from fyplake.config import get_settings

    console = logging.StreamHandler()
    console.setLevel(logging.WARNING - 10 * min(verbose, 2))
    console.setFormatter(logging.Formatter(CONSOLE_FORMAT))
    handlers: list[logging.Handler] = [console]
    try:
        settings = get_settings()
    except Exception:  # noqa: BLE001 - a bad setting is reported by the command that needs it
        settings = None
    if settings is not None:
        file = LazyFileHandler(settings.home / "logs" / "fyp.log")
        file.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
        file.setFormatter(
            JsonFormatter() if settings.log_format == "json" else logging.Formatter(FILE_FORMAT)
        )
        handlers.append(file)
    logging.basicConfig(level=min(h.level for h in handlers), handlers=handlers, force=True)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
