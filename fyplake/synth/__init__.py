"""Synthetic world generator behind `fyp generate`.

A hidden world (``world``: topic interests, creator and video quality, Zipf popularity) drives a
day-by-day simulation of impressions and engagement (``behaviour``) that is written to the landing
zone exactly as a real producer would (``writer``), plus the ground truth an evaluation needs
(``truth``; its module docstring documents the Parquet schemas). Same seed and parameters give
byte-identical files.
"""

from fyplake.synth.generate import GenerateSummary, generate, generate_world
from fyplake.synth.world import WorldParams

__all__ = ["GenerateSummary", "WorldParams", "generate", "generate_world"]
