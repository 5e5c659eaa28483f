"""matkeras.layers.BiLSTM against ONNX's bidirectional LSTM case, torch, Keras Bidirectional and
the real MATLAB-saved vcs_bilstm100_last.mat network."""

import keras
import numpy as np
import torch

from matkeras.layers import LSTM, BiLSTM, layouts
from tests import tolerances as tol
from tests.fixtures.matlab_files import saved_layers, value, vcs_features
from tests.layers.onnx_cases import batch_major, load_case

C, H = 3, 4


def _params(rng):
    return {"input_weights": rng.normal(0, 0.5, (8 * H, C)),
            "recurrent_weights": rng.normal(0, 0.5, (8 * H, H)),
            "bias": rng.normal(0, 0.5, 8 * H)}


def _numpy(values):
    return [keras.ops.convert_to_numpy(v) for v in values]


def test_onnx_bidirectional_lstm_case():
    attributes, tensors = load_case("test_lstm_bidirectional")
    units = attributes["hidden_size"]
    x, expected = batch_major(attributes, tensors)
    layer = BiLSTM(units, output_mode="last", has_state_outputs=True)
    layer.set_matlab_weights(  # per direction: ONNX i, o, f, c -> MATLAB i, f, g, o
        input_weights=np.concatenate([layouts.onnx_to_matlab("lstm", w) for w in tensors["W"]]),
        recurrent_weights=np.concatenate(
            [layouts.onnx_to_matlab("lstm", r) for r in tensors["R"]]),
        bias=np.zeros(8 * units),
    )
    last, h_t, c_t = _numpy(layer(x.astype("float32")))
    onnx_h = np.concatenate([expected("Y_h", 0), expected("Y_h", 1)], axis=-1)
    onnx_c = np.concatenate([expected("Y_c", 0), expected("Y_c", 1)], axis=-1)
    assert np.max(np.abs(last - onnx_h)) <= tol.FLOAT32_PAIR_ATOL
    assert np.max(np.abs(h_t - onnx_h)) <= tol.FLOAT32_PAIR_ATOL
    assert np.max(np.abs(c_t - onnx_c)) <= tol.FLOAT32_PAIR_ATOL


def test_sequence_output_matches_torch_bidirectional_lstm(rng):
    params = _params(rng)
    x = rng.normal(0, 1, (3, 25, C))
    reference = torch.nn.LSTM(C, H, batch_first=True, bidirectional=True, dtype=torch.float64)
    W, R, b = params["input_weights"], params["recurrent_weights"], params["bias"]
    with torch.no_grad():
        for suffix, rows in (("", slice(0, 4 * H)), ("_reverse", slice(4 * H, 8 * H))):
            getattr(reference, f"weight_ih_l0{suffix}").copy_(torch.from_numpy(W[rows]))
            getattr(reference, f"weight_hh_l0{suffix}").copy_(torch.from_numpy(R[rows]))
            getattr(reference, f"bias_ih_l0{suffix}").copy_(torch.from_numpy(b[rows]))
            getattr(reference, f"bias_hh_l0{suffix}").zero_()
        expected = reference(torch.from_numpy(x))[0].numpy()
    layer = BiLSTM(H, dtype="float64")
    layer.set_matlab_weights(**params)
    got = keras.ops.convert_to_numpy(layer(x))
    assert np.max(np.abs(got - expected)) <= tol.FLOAT64_ATOL


def test_keras_bidirectional_of_matkeras_lstm_equals_bilstm(rng):
    params = _params(rng)
    x = rng.normal(0, 1, (3, 9, C)).astype("float32")
    for output_mode in ("sequence", "last"):
        bilstm = BiLSTM(H, output_mode=output_mode)
        bilstm.set_matlab_weights(**params)
        wrapped = keras.layers.Bidirectional(LSTM(H, output_mode=output_mode))
        wrapped.build((None, None, C))
        for layer, rows in ((wrapped.forward_layer, slice(0, 4 * H)),
                            (wrapped.backward_layer, slice(4 * H, 8 * H))):
            layer.set_matlab_weights(**{k: v[rows] for k, v in params.items()})
        difference = np.abs(keras.ops.convert_to_numpy(wrapped(x) - bilstm(x)))
        assert np.max(difference) <= tol.FLOAT32_PAIR_ATOL, output_mode


def test_last_time_step_reading_differs_from_final_state(rng):
    params = _params(rng)
    x = rng.normal(0, 1, (2, 6, C)).astype("float32")
    outputs = {}
    for reading in ("final-state", "last-time-step"):
        layer = BiLSTM(H, output_mode="last", backward_last_output=reading)
        layer.set_matlab_weights(**params)
        outputs[reading] = keras.ops.convert_to_numpy(layer(x))
    sequence = BiLSTM(H)
    sequence.set_matlab_weights(**params)
    y = keras.ops.convert_to_numpy(sequence(x))
    assert np.max(np.abs(outputs["last-time-step"] - y[:, -1])) <= tol.FLOAT32_ATOL
    assert np.max(np.abs(outputs["final-state"][:, H:] - y[:, 0, H:])) <= tol.FLOAT32_ATOL
    assert np.max(np.abs(outputs["final-state"] - outputs["last-time-step"])) > 1e-3


class TestVcsBiLSTM100:
    def test_matlab_trained_bilstm_classifies_as_reported(self):
        _, bilstm_struct, fc_struct, _, output_struct = saved_layers("vcs_bilstm100_last.mat")
        units = int(value(bilstm_struct, "NumHiddenUnits").item())
        assert not bool(value(bilstm_struct, "ReturnSequence").item())
        layer = BiLSTM(units, output_mode="last",
                       hidden_state=value(bilstm_struct, "HiddenState"),
                       cell_state=value(bilstm_struct, "CellState"))
        layer.set_matlab_weights(input_weights=value(bilstm_struct, "InputWeights"),
                                 recurrent_weights=value(bilstm_struct, "RecurrentWeights"),
                                 bias=value(bilstm_struct, "Bias"))
        categories = [str(c) for c in np.ravel(np.asarray(output_struct["Categories"]))]
        accuracies = []
        for split in ("Train", "Validation"):
            x, labels = vcs_features(split)
            hidden = keras.ops.convert_to_numpy(layer(x.astype("float32")))
            scores = hidden @ value(fc_struct, "Weights").T + value(fc_struct, "Bias").T
            predicted = np.array([int(categories[k]) for k in np.argmax(scores, axis=1)])
            accuracies.append(float(np.mean(predicted == labels)))
        assert round(accuracies[0], 3) == 0.996 and accuracies[1] == 1.0, accuracies
