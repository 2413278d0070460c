"""The engine's settings have one home: ``fyplake.config.Settings``. ``RecParams`` and the kernel
configs it builds restate no value, so a changed default or an environment override reaches
every transform."""

from __future__ import annotations

import dataclasses

import pytest

from fyplake.config import Settings
from jobs.recsys import candidates, ranking
from jobs.recsys.params import QUOTA_SETTINGS, RecParams


def test_every_engine_knob_names_a_settings_field_and_takes_its_default():
    names = {f.name: f.metadata.get("setting") for f in dataclasses.fields(RecParams)}
    missing = {k: v for k, v in names.items() if k != "quotas" and v not in Settings.model_fields}
    assert not missing
    assert set(QUOTA_SETTINGS.values()) <= set(Settings.model_fields)
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
