"""The studio speaks a person's language: tabs named for what they do, a short set of
controls open, engines that say what they need, input labels without CLI flags."""
from __future__ import annotations

import pytest

from animakit.params import param_specs
from animakit.registry import pipeline_classes
from animakit.studio.tabs import engine_choices

TITLES = {"portrait.talking": "Talking portrait", "portrait.pose": "Dance from a video",
          "video.i2v": "Animate a photo", "editing.first_frame": "Edit a video",
          "dit.generate": "DiT generator", "video.kenburns": "Pan & zoom"}


@pytest.mark.parametrize("name", sorted(TITLES))
def test_each_tab_has_a_title_and_few_open_controls(name):
    cls = pipeline_classes()[name]
    assert cls.display_name() == TITLES[name] and cls.describe()["title"] == TITLES[name]
    open_params = [s for s in param_specs(cls.Params) if not s.advanced]
    assert len(open_params) <= 5, [s.name for s in open_params]
    for spec in cls.inputs:
        words = f"{spec.title} {spec.help}"
        assert "face_index" not in words and "--" not in words, words


def test_engine_choices_say_what_they_need():
    for name, cls in pipeline_classes().items():
        for label, value in engine_choices(cls):
            assert value in cls.engines
            eng = cls.engines[value]
            if not eng.neural:
                assert "no download" in label
            elif eng.weights_included:
                assert "weights included" in label and "needs" not in label
            else:
                assert "needs its weights" in label
    dit = dict((v, lab) for lab, v in engine_choices(pipeline_classes()["dit.generate"]))
    assert "needs" not in dit["dit"]


def test_neural_settings_are_not_open_on_the_weight_free_default():
    """Only a neural engine's own group holds steps / device / dtype: hidden while the
    weight-free default is chosen, and device / dtype are under Advanced even then."""
    for name, cls in pipeline_classes().items():
        shared = {s.name for s in param_specs(cls.Params)}
        assert not shared & {"device", "dtype", "attention"}, name
        for engine in cls.engines:
            for s in cls.engine_param_specs(engine):
                if s.name in ("device", "dtype", "attention", "cpu_offload"):
                    assert s.advanced, (name, engine, s.name)
