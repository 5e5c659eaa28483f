"""The transformer layers' MATLAB constructors, configs and saved files."""


import keras
import numpy as np
import pytest

from matkeras import layers as L
from matkeras.matlab import (
    attentionLayer,
    embeddingConcatenationLayer,
    indexing1dLayer,
    positionEmbeddingLayer,
    selfAttentionLayer,
    sinusoidalPositionEncodingLayer,
)
from tests.fresh_reload import reload_case
from tests.layers.transformer_helpers import random_attention_weights, snake


class TestConstructors:
    def test_self_attention_takes_matlab_arguments(self):
        layer = selfAttentionLayer(4, 128, "AttentionMask", "causal", "NumValueChannels", 64,
                                   OutputSize=10, DropoutProbability=0.1,
                                   HasPaddingMaskInput=True, WeightL2Factor=2,
                                   BiasLearnRateFactor=0.5, Name="sa")
        assert isinstance(layer, L.SelfAttention) and layer.name == "sa"
        assert (layer.num_heads, layer.num_key_channels, layer.num_value_channels,
                layer.output_size) == (4, 128, 64, 10)
        assert layer.attention_mask == "causal" and layer.dropout_probability == 0.1
        assert layer.has_padding_mask_input and layer.weights_l2_factor == 2.0
        assert layer.learn_rate_factors["bias_learn_rate_factor"] == 0.5

    def test_self_attention_takes_matlab_weights(self, rng):
        weights = random_attention_weights(rng, 3, 4, 4, 3)
        layer = selfAttentionLayer(2, 4, *[v for p, w in weights.items() for v in (p, w)])
        for prop, value in weights.items():
            np.testing.assert_allclose(getattr(layer, snake(prop)), value.astype("float32"))

    def test_attention_layer(self):
        layer = attentionLayer(2, Scale=0.5, HasScoresOutput=True)
        assert isinstance(layer, L.Attention) and layer.scale == 0.5
        assert layer.matlab_output_names == ("out", "scores")

    def test_position_layers(self):
        layer = positionEmbeddingLayer(3, 256, Name="pos-emb", WeightLearnRateFactor=2)
        assert (layer.output_size, layer.max_position, layer.name) == (3, 256, "pos-emb")
        assert layer.learn_rate_factors == {"weights_learn_rate_factor": 2.0}
        assert sinusoidalPositionEncodingLayer(8, "Positions", "data-values").positions == \
            "data-values"
        assert isinstance(embeddingConcatenationLayer(WeightsInitializer="zeros"),
                          L.EmbeddingConcatenation)

    @pytest.mark.parametrize("args,kwargs,index,masked", [
        ((), {}, "first", False), (("last",), {}, "last", False),
        (("HasPaddingMaskInput", True), {}, "first", True),
        (("last", "HasPaddingMaskInput", True), {}, "last", True), ((), {"Index": 2}, 2, False),
    ], ids=["default", "last", "mask-only", "last-mask", "keyword"])
    def test_indexing_layer(self, args, kwargs, index, masked):
        layer = indexing1dLayer(*args, **kwargs)
        assert (layer.index, layer.has_padding_mask_input) == (index, masked)

    def test_unknown_option_lists_the_valid_ones(self):
        with pytest.raises(ValueError, match=r"selfAttentionLayer: unknown name-value argument "
                                             r"'Heads'\. Valid names: AttentionMask"):
            selfAttentionLayer(2, 8, "Heads", 3)


def _transformer_model(rng):
    """A small transformer on every layer kind, with a padding-mask input."""
    data = keras.Input((None, 3), name="x")
    mask = keras.Input((None,), name="mask")
    pos = L.PositionEmbedding(3, 16, name="pos")(data)
    x = keras.layers.Add()([data, pos])
    x = L.SelfAttention(2, 8, attention_mask="causal", has_padding_mask_input=True,
                        name="sa1")([x, mask])
    x = x + L.SinusoidalPositionEncoding(4, name="sin")(x)[..., :3]
    x, scores = L.SelfAttention(1, 4, num_value_channels=6, has_scores_output=True,
                                dropout_probability=0.2, name="sa2")(x)
    x = L.EmbeddingConcatenation(name="cls")(x)
    x = L.Attention(3, attention_mask=np.tril(np.ones((3, 3))), name="att")([x[:, :3]] * 3)
    x = L.Indexing1D("last", name="last")(x)
    return keras.Model([data, mask], [x, scores])


LAYER_CLASSES = [L.SelfAttention, L.Attention, L.PositionEmbedding, L.SinusoidalPositionEncoding,
                 L.EmbeddingConcatenation, L.Indexing1D]


class TestSaving:
    def test_config_round_trip(self, rng):
        model = _transformer_model(rng)
        for layer in model.layers:
            if isinstance(layer, tuple(LAYER_CLASSES)):
                config = layer.get_config()
                clone = type(layer).from_config(config)
                assert clone.get_config() == config
                restored = keras.layers.deserialize(keras.layers.serialize(layer))
                assert type(restored) is type(layer) and restored.get_config() == config


@reload_case
def transformer_with_mask(rng):
    """The transformer layers with a padding mask (tests/test_fresh_process_reload.py)."""
    model = _transformer_model(rng)
    x = rng.normal(size=(2, 3, 3)).astype("float32")
    mask = np.array([[1, 1, 1], [1, 1, 0]], "float32")
    return model, [x, mask], {"type(model.get_layer('sa1')).__module__":
                              "matkeras.layers.attention"}
