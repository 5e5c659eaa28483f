"""featureInputLayer, the activation layers (sigmoid, tanh, gelu, swish) and the multi-input layers
(addition, multiplication, concatenation, depth concatenation) against independent numpy versions
of MATLAB's formulas (tests/reference/layers.py), in float64 and float32."""


import keras
import numpy as np
import pytest

from matkeras import layers as L
from matkeras import matlab as M
from matkeras.layers._input_normalization import InputNormalization
from tests import tolerances as tol
from tests.fresh_reload import reload_case
from tests.reference import layers as ref

DTYPES = {"float64": tol.FLOAT64_ATOL, "float32": tol.FLOAT32_ATOL}


def _np(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _max_error(got, expected):
    got = np.asarray(got, np.float64)
    assert got.shape == np.shape(expected), (got.shape, np.shape(expected))
    return float(np.max(np.abs(got - expected)))


def _assert_close(got, expected, atol):
    error = _max_error(got, expected)
    assert error <= atol, f"max |matkeras - numpy| = {error:.3g} > {atol:g}"


def _cast(x, dtype):
    return np.asarray(x, dtype)


@pytest.fixture(params=list(DTYPES), ids=list(DTYPES))
def dtype(request):
    return request.param


class TestFeatureInput:
    @pytest.mark.parametrize("kind", ["zerocenter", "zscore", "rescale-symmetric",
                                      "rescale-zero-one"])
    def test_adapt_and_formula_per_feature(self, rng, kind, dtype):
        features = rng.normal(2.0, 3.0, (40, 5)) * rng.uniform(0.5, 4.0, 5)
        layer = L.FeatureInput(5, normalization=kind, dtype=dtype)
        layer.adapt(features)
        stats = {"mean": features.mean(0), "std": features.std(0), "lo": features.min(0),
                 "hi": features.max(0)}
        x = rng.normal(size=(7, 5)) * 4
        _assert_close(_np(layer(_cast(x, dtype))), ref.normalize(x, kind, **stats),
                      DTYPES[dtype])

    def test_given_matlab_statistics_column_vectors(self, rng, dtype):
        mean, std = rng.normal(size=(3, 1)), rng.uniform(0.5, 2.0, (3, 1))
        layer = M.featureInputLayer(3, "Normalization", "zscore", "Mean", mean,
                                    "StandardDeviation", std)
        assert isinstance(layer, L.FeatureInput)
        layer = L.FeatureInput(3, normalization="zscore", mean=mean, standard_deviation=std,
                               dtype=dtype)
        x = rng.normal(size=(4, 3))
        _assert_close(_np(layer(_cast(x, dtype))),
                      ref.normalize(x, "zscore", mean=mean[:, 0], std=std[:, 0]), DTYPES[dtype])

    def test_all_dimension_uses_scalar_statistics(self, rng):
        features = rng.normal(size=(30, 4)) * [1, 2, 3, 4]
        layer = L.FeatureInput(4, normalization="rescale-zero-one",
                               normalization_dimension="all", dtype="float64")
        layer.adapt(features)
        assert layer.statistic("min").shape == ()
        x = rng.normal(size=(5, 4))
        _assert_close(_np(layer(x)), ref.normalize(x, "rescale-zero-one", lo=features.min(),
                                                   hi=features.max()), tol.FLOAT64_ATOL)

    def test_adapt_reads_features_in_rows_or_columns(self, rng):
        features = rng.normal(size=(20, 3))
        rows, columns = (L.FeatureInput(3, normalization="zscore") for _ in range(2))
        rows.adapt(features)
        columns.adapt(features.T, layout="CB")
        np.testing.assert_array_equal(rows.statistic("mean"), columns.statistic("mean"))
        np.testing.assert_allclose(rows.statistic("mean"), features.mean(0), rtol=1e-6)

    def test_callable_normalization(self, rng):
        layer = L.FeatureInput(2, normalization=lambda x: 3.0 * x, dtype="float64")
        x = rng.normal(size=(3, 2))
        _assert_close(_np(layer(x)), 3.0 * x, 0.0)

    def test_input_size_is_a_tuple_and_ports_are_matlabs(self):
        layer = M.featureInputLayer(4, Name="x[k]")
        assert layer.input_size == (4,) and layer.name == "x[k]"
        assert layer.matlab_output_names == ("out",)

    def test_shares_the_normalization_code_with_sequence_input(self):
        assert issubclass(L.FeatureInput, InputNormalization)
        assert issubclass(L.SequenceInput, InputNormalization)

    def test_sequence_input_refuses_feature_data(self):
        with pytest.raises(ValueError, match=r"input has shape \(2, 3\); expected "
                                             r"\(batch, time, 3\)"):
            L.SequenceInput(3)(np.zeros((2, 3), "float32"))

    def test_time_axis_is_refused(self):
        with pytest.raises(ValueError, match=r"FeatureInput layer 'f': input has shape "
                                             r"\(2, 5, 3\); expected \(batch, 3\)"):
            L.FeatureInput(3, name="f")(np.zeros((2, 5, 3), "float32"))

    def test_element_dimension_is_refused(self):
        with pytest.raises(ValueError, match="NormalizationDimension.*\"auto\", \"channel\", "
                                             "\"all\"; received 'element'"):
            L.FeatureInput(3, normalization_dimension="element")

    @pytest.mark.parametrize("function", [M.featureInputLayer, M.sequenceInputLayer],
                             ids=["feature", "sequence"])
    def test_split_complex_inputs_true_is_refused_false_accepted(self, function):
        assert function(3, "SplitComplexInputs", False).input_size == (3,)
        with pytest.raises(ValueError, match="SplitComplexInputs = true .* not supported"):
            function(3, "SplitComplexInputs", True)

    def test_bad_statistics_are_named(self):
        with pytest.raises(ValueError, match=r"Mean has shape \(2,\); expected a scalar, 3"):
            L.FeatureInput(3, normalization="zscore", mean=[1.0, 2.0], standard_deviation=1.0)
        with pytest.raises(ValueError, match="StandardDeviation must be positive"):
            L.FeatureInput(3, normalization="zscore", mean=0.0, standard_deviation=[1, 0, 1])

    def test_input_size_must_be_a_positive_int(self):
        with pytest.raises(ValueError, match="InputSize.*positive integer; received 0"):
            L.FeatureInput(0)


class TestActivations:
    @pytest.mark.parametrize("layer,formula", [
        (L.Sigmoid, ref.sigmoid), (L.Tanh, np.tanh), (L.Swish, ref.swish),
        (lambda **kw: L.GELU(**kw), lambda x: ref.gelu(x, "none")),
        (lambda **kw: L.GELU(approximation="tanh", **kw), lambda x: ref.gelu(x, "tanh")),
    ], ids=["sigmoid", "tanh", "swish", "gelu", "gelu-tanh"])
    def test_matches_matlab_formula(self, rng, layer, formula, dtype):
        x = rng.normal(0, 3, size=(3, 6, 5))
        _assert_close(_np(layer(dtype=dtype)(_cast(x, dtype))), formula(x), DTYPES[dtype])

    def test_gelu_approximations_differ(self, rng):
        x = np.linspace(-4, 4, 81)
        exact, approx = ref.gelu(x, "none"), ref.gelu(x, "tanh")
        assert 1e-4 < np.max(np.abs(exact - approx)) < 1e-3  # the oracle tells them apart

    def test_matlab_constructors(self):
        assert isinstance(M.sigmoidLayer(), L.Sigmoid) and isinstance(M.tanhLayer(), L.Tanh)
        assert isinstance(M.swishLayer(Name="s"), L.Swish)
        assert M.geluLayer("Approximation", "tanh").approximation == "tanh"
        assert M.geluLayer().approximation == "none"
        assert M.tanhLayer(Name="act1").matlab_output_names == ("out",)

    def test_unknown_gelu_approximation_is_named(self):
        with pytest.raises(ValueError, match="Approximation.*\"none\", \"tanh\"; received "
                                             "'erf'"):
            M.geluLayer(Approximation="erf")


class TestElementwiseMerge:
    @pytest.mark.parametrize("cls,formula", [(L.Addition, ref.add_all),
                                             (L.Multiplication, ref.multiply_all)],
                             ids=["addition", "multiplication"])
    def test_three_sequences(self, rng, cls, formula, dtype):
        xs = [rng.normal(size=(2, 5, 4)) for _ in range(3)]
        got = _np(cls(3, dtype=dtype)([_cast(x, dtype) for x in xs]))
        matlab = [ref.keras_to_matlab_format(x, "CBT") for x in xs]
        _assert_close(got, ref.matlab_format_to_keras(formula(matlab), "CBT"), DTYPES[dtype])

    @pytest.mark.parametrize("cls,formula", [(L.Addition, ref.add_all),
                                             (L.Multiplication, ref.multiply_all)],
                             ids=["addition", "multiplication"])
    def test_singleton_channel_is_expanded(self, rng, cls, formula):
        xs = [rng.normal(size=(3, 4)), rng.normal(size=(3, 1))]
        got = _np(cls(2, dtype="float64")(xs))
        matlab = [ref.keras_to_matlab_format(x, "CB") for x in xs]
        _assert_close(got, ref.matlab_format_to_keras(formula(matlab), "CB"), tol.FLOAT64_ATOL)

    def test_in_a_functional_model(self, rng):
        a, b = keras.Input((None, 3)), keras.Input((None, 3))
        model = keras.Model([a, b], L.Addition(2)([a, b]))
        assert model.output_shape == (None, None, 3)
        x, y = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 3))
        _assert_close(_np(model([x, y])), x + y, tol.FLOAT32_ATOL)

    @pytest.mark.parametrize("cls,verb", [(L.Addition, "add"), (L.Multiplication, "multiply")])
    def test_mismatched_shapes_are_named(self, cls, verb):
        with pytest.raises(ValueError, match=rf"'m': cannot {verb} inputs of shapes in1 "
                                             r"\(None, 3\), in2 \(None, 4\): axis 1"):
            cls(2, name="m")([keras.Input((3,)), keras.Input((4,))])

    def test_different_ranks_are_refused(self):
        with pytest.raises(ValueError, match=r"different ranks \(in1 \(None, 3\), in2 "
                                             r"\(None, 5, 3\)\)"):
            L.Addition(2)([keras.Input((3,)), keras.Input((5, 3))])

    def test_wrong_number_of_inputs_is_named(self):
        with pytest.raises(ValueError, match=r"received 3 inputs .* NumInputs is 2 \(in1, in2\)"):
            L.Addition(2)([keras.Input((3,))] * 3)
        with pytest.raises(ValueError, match="expects a list of 2 tensors"):
            L.Multiplication(2)(keras.Input((3,)))

    def test_num_inputs_at_least_two(self):
        with pytest.raises(ValueError, match="NumInputs.*at least 2; received 1"):
            M.additionLayer(1)

    def test_matlab_constructors_and_ports(self):
        layer = M.additionLayer(3, "Name", "add")
        assert isinstance(layer, L.Addition) and layer.name == "add"
        assert layer.num_inputs == 3
        assert layer.matlab_input_names == ("in1", "in2", "in3")
        assert layer.matlab_output_names == ("out",)
        assert M.multiplicationLayer(2).matlab_input_names == ("in1", "in2")
        with pytest.raises(AttributeError):
            layer.matlab_input_names = ("a",)


CONCATENATION_CASES = [
    # (Keras shapes of the inputs, MATLAB format, Dim, data_format argument)
    ([(2, 3), (2, 4)], "CB", 1, "auto"),
    ([(2, 5, 3), (2, 5, 2), (2, 5, 1)], "CBT", 1, "auto"),
    ([(2, 3, 4, 2), (2, 5, 4, 2)], "SSCB", 1, "SSCB"),
    ([(2, 3, 4, 2), (2, 3, 1, 2)], "SSCB", 2, "SSCB"),
    ([(2, 3, 4, 2), (2, 3, 4, 5)], "SSCB", 3, "SSCB"),
    ([(2, 6, 3, 2), (2, 6, 4, 2)], "SCBT", 1, "SCBT"),
    ([(2, 6, 3, 2), (2, 6, 3, 3)], "SCBT", 2, "SCBT"),
    ([(2, 4, 3, 2, 1), (2, 4, 3, 5, 1)], "SSCBT", 2, "SSCBT"),
    ([(2, 3, 2), (2, 4, 2)], "SCB", 1, "SCB"),
]


class TestConcatenation:
    @pytest.mark.parametrize("shapes,fmt,dim,data_format", CONCATENATION_CASES,
                             ids=[f"{c[1]}-dim{c[2]}" for c in CONCATENATION_CASES])
    def test_matches_matlab_cat_in_matlab_layout(self, rng, shapes, fmt, dim, data_format,
                                                 dtype):
        xs = [rng.normal(size=s) for s in shapes]
        layer = L.Concatenation(dim, len(xs), data_format=data_format, dtype=dtype)
        got = _np(layer([_cast(x, dtype) for x in xs]))
        expected = ref.concatenate_matlab([ref.keras_to_matlab_format(x, fmt) for x in xs], dim)
        _assert_close(got, ref.matlab_format_to_keras(expected, fmt), DTYPES[dtype])

    def test_feature_and_sequence_dim_one_is_the_last_keras_axis(self):
        assert L.merge.keras_axis(1, "CB", "") == 1
        assert L.merge.keras_axis(1, "CBT", "") == 2

    def test_output_shape_in_a_model(self):
        a, b = keras.Input((None, 2)), keras.Input((None, 3))
        assert M.concatenationLayer(1, 2)([a, b]).shape == (None, None, 5)

    @pytest.mark.parametrize("dim,match", [
        (2, r"Dim = 2 is the batch dimension \(B\) of the CBT input \(1 = C, 2 = B, 3 = T\)"),
        (3, r"Dim = 3 is the time dimension \(T\) of the CBT input"),
        (4, r"Dim = 4 is beyond the 3 dimensions of the CBT input"),
    ], ids=["batch", "time", "beyond"])
    def test_unmappable_dims_are_refused(self, dim, match):
        with pytest.raises(ValueError, match=match):
            L.Concatenation(dim, 2)([keras.Input((None, 3)), keras.Input((None, 3))])

    def test_dim_is_checked_at_creation_when_the_format_is_given(self):
        with pytest.raises(ValueError, match="Dim = 4 is the batch dimension"):
            L.Concatenation(4, 2, data_format="SSCB")

    def test_higher_ranks_need_a_data_format(self):
        with pytest.raises(ValueError, match="rank 4 do not say their MATLAB data format"):
            L.Concatenation(1, 2)([keras.Input((3, 4, 2)), keras.Input((3, 4, 2))])

    def test_data_format_must_match_the_rank(self):
        with pytest.raises(ValueError, match="data_format 'SSCB' has 4 dimensions but the "
                                             "inputs have rank 3"):
            L.Concatenation(1, 2, data_format="sscb")([keras.Input((4, 2))] * 2)
        with pytest.raises(ValueError, match="data_format must be one of"):
            L.Concatenation(1, 2, data_format="NHWC")

    def test_other_axes_must_agree(self):
        with pytest.raises(ValueError, match=r"shapes in1 \(None, 5, 2\), in2 \(None, 6, 3\) "
                                             r"along Keras axis 2: axis 1 differs"):
            L.Concatenation(1, 2)([keras.Input((5, 2)), keras.Input((6, 3))])

    def test_depth_concatenation_is_the_channel_axis(self, rng, dtype):
        xs = [rng.normal(size=(2, 3, 4, 1)), rng.normal(size=(2, 3, 4, 2))]
        assert isinstance(M.depthConcatenationLayer(2), L.DepthConcatenation)
        got = _np(L.DepthConcatenation(2, dtype=dtype)([_cast(x, dtype) for x in xs]))
        expected = ref.concatenate_matlab([ref.keras_to_matlab_format(x, "SSCB") for x in xs], 3)
        _assert_close(got, ref.matlab_format_to_keras(expected, "SSCB"), DTYPES[dtype])

    def test_matlab_constructor_and_ports(self):
        layer = M.concatenationLayer(1, 3, "Name", "concat")
        assert (layer.dim, layer.num_inputs, layer.name) == (1, 3, "concat")
        assert layer.matlab_input_names == ("in1", "in2", "in3")
        assert layer.matlab_output_names == ("out",)


NEW_LAYERS = [
    L.FeatureInput(3, normalization="zscore", mean=[0.5, 1.0, 2.0], standard_deviation=2.0,
                   name="fi"),
    L.FeatureInput(2, normalization="rescale-symmetric", normalization_dimension="all", min=-1.0,
                   max=3.0),
    L.Sigmoid(), L.Tanh(), L.GELU(), L.GELU(approximation="tanh"), L.Swish(),
    L.Addition(3), L.Multiplication(2), L.Concatenation(1, 2), L.DepthConcatenation(4),
    L.Concatenation(2, 2, data_format="SSCB"),
]


@pytest.mark.parametrize("layer", NEW_LAYERS, ids=lambda layer: layer.name)
def test_config_round_trip(layer):
    config = layer.get_config()
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is type(layer) and restored.get_config() == config
    assert type(layer).from_config(config).get_config() == config


@reload_case
def feature_network_of_every_graph_layer(rng):
    """A two-input feature network using every new layer (tests/test_fresh_process_reload.py:
    ``import matkeras`` must register them all)."""
    x_in, u_in = keras.Input((2,), name="x"), keras.Input((3,), name="u")
    x = L.FeatureInput(2, normalization="zscore", mean=[0.1, -0.2], standard_deviation=[1.5, 2],
                       name="x[k]")(x_in)
    u = L.FeatureInput(3, normalization="rescale-zero-one", min=-2.0, max=[1.0, 2.0, 3.0],
                       name="u[k]")(u_in)
    h = L.Concatenation(1, 2, name="concat")([x, u])
    branches = [layer(h) for layer in (L.Sigmoid(), L.Tanh(), L.GELU(),
                                       L.GELU(approximation="tanh"), L.Swish())]
    total = L.Addition(5, name="add")(branches)
    gated = L.Multiplication(2)([total, branches[0]])
    out = L.DepthConcatenation(2)([gated, x])
    model = keras.Model([x_in, u_in], out)
    return model, [rng.normal(size=(4, 2)).astype("float32"),
                   rng.normal(size=(4, 3)).astype("float32")], {}


@pytest.mark.tensorflow
def test_tflite_export_uses_builtin_ops_and_agrees(tmp_path, rng):
    """The activation and multi-input layers on a sequence, through TFLite (LiteRT)."""
    from matkeras import export

    inputs = keras.Input((None, 4))
    branches = [layer(inputs) for layer in (L.Sigmoid(), L.Tanh(), L.GELU(),
                                            L.GELU(approximation="tanh"), L.Swish())]
    merged = L.Concatenation(1, 5)(branches)
    out = L.Multiplication(2)([L.Addition(2)([merged, merged]), merged])
    model = keras.Model(inputs, L.DepthConcatenation(2)([out, inputs]))
    x = rng.normal(0, 1, size=(2, 6, 4)).astype("float32")  # outputs O(1): float32 rounding
    path = export.export_tflite(model, tmp_path / "graph.tflite", batch_size=2, time_steps=6)
    ops = export.tflite_ops(path)
    assert "GELU" in ops and not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"]
    got = export.tflite_runner(path)(x)
    (value,) = got.values()
    _assert_close(value, _np(model(x)), tol.FLOAT32_PAIR_ATOL)
