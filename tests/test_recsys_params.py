"""The engine's settings have one home: the engine section of the settings
(``fyplake.config.engine.EngineSettings``, part of ``Settings``). ``RecParams`` and the kernel
configs it builds restate no value, so a changed default or an environment override reaches
every transform."""

from __future__ import annotations

import dataclasses
import os

import pytest

from fyplake.config import Settings
from fyplake.config.engine import EngineSettings
from jobs.recsys import candidates, ranking
from jobs.recsys.params import QUOTA_SETTINGS, RecParams


def test_every_engine_knob_names_a_settings_field_and_takes_its_default(monkeypatch):
    # the suite's conftest sets some FYP_REC_* for speed; the defaults are what this compares
    for var in [v for v in os.environ if v.startswith("FYP_REC_")]:
        monkeypatch.delenv(var)
    names = {f.name: f.metadata.get("setting") for f in dataclasses.fields(RecParams)}
    engine = EngineSettings.model_fields
    missing = {k: v for k, v in names.items() if k != "quotas" and v not in engine}
    assert not missing
    assert set(QUOTA_SETTINGS.values()) <= set(engine)
    # the engine section is all of the rec_* settings, and Settings carries it whole
    assert set(engine) == {n for n in Settings.model_fields if n.startswith("rec_")}
    assert RecParams() == RecParams.from_settings(Settings())


def test_an_override_in_the_environment_reaches_the_kernel_configs(monkeypatch):
    monkeypatch.setenv("FYP_REC_TOP_N", "37")
    monkeypatch.setenv("FYP_REC_QUOTA_COWATCH", "11")
    monkeypatch.setenv("FYP_REC_WEIGHT_COWATCH", "1.5")
    p = RecParams.from_settings(Settings())
    assert ranking.RankConfig.from_params(p).top_n == 37
    assert candidates.CandidateConfig.from_params(p).quotas["cowatch"] == 11
    # RecParams() is the declared defaults, not the environment
    assert p.w_cowatch == 1.5
    assert RecParams().w_cowatch == Settings.model_fields["rec_weight_cowatch"].default


def test_kernel_configs_have_no_defaults_of_their_own():
    for cls in (ranking.RankConfig, candidates.CandidateConfig):
        with pytest.raises(TypeError):
            cls()
