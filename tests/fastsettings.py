"""Settings for the modules that check wiring, idempotence and invariants rather than quality:
the per-run validations pinned at the values the engine falls back to."""

from __future__ import annotations


def wiring_only() -> dict[str, str]:
    """The environment of a module that checks wiring, idempotence and invariants: ALS at half
    its iterations (half the embeddings job's largest cost) and the per-run validations at
    their priors (they run as shipped in the "Bring your own log" recipes and their own tests,
    which also check that the same inputs give the same choice)."""
    return {"FYP_REC_ALS_MAX_ITER": "4", **validated_at_their_priors()}


def validated_at_their_priors() -> dict[str, str]:
    """The settings the engine otherwise validates each run (the hybrid blend, the cold-start
    prior, the popularity half-life) as environment variables, at the values it falls back to
    when a validation cannot run."""
    import dataclasses

    from jobs.recsys import blend, coldstart
    from jobs.recsys.params import RecParams

    defaults = RecParams()
    fallback = blend.with_prior(defaults).replace(
        cold_prior_strength=coldstart.PRIOR_FALLBACK,
        popularity_half_life_days=defaults.freshness_half_life_days,
    )
    setting = {f.name: f.metadata.get("setting") for f in dataclasses.fields(RecParams)}
    keys = (*blend.BLEND_KEYS, "cold_prior_strength", "popularity_half_life_days")
    return {f"FYP_{setting[k].upper()}": str(getattr(fallback, k)) for k in keys}
