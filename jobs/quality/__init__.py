"""Quality gates: Great Expectations suites (``suites/<layer>.<table>.json``) run over each
pipeline stage's output. ``run_gate`` raises ``QualityGateFailed`` naming the failing
expectations and row counts; results and HTML data docs are kept under ``settings.quality_dir``.
"""

from jobs.quality.gate import (
    LAYERS,
    SUITES_DIR,
    ExpectationFailure,
    GateResult,
    QualityGateFailed,
    TableResult,
    run_gate,
)

__all__ = [
    "LAYERS",
    "SUITES_DIR",
    "ExpectationFailure",
    "GateResult",
    "QualityGateFailed",
    "TableResult",
    "run_gate",
]
