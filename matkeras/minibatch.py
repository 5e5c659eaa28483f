"""MATLAB's prediction and testing verbs of the trainnet era: ``minibatchpredict`` and
``testnet`` (R2024a+), on :func:`matkeras.inference.predict`.

Both take a :class:`~matkeras.dlnetwork.DLNetwork` or a ``keras.Model`` (a network
``load_matlab_network`` read from a MATLAB dlnetwork file goes straight in), sequences as
s-by-c (time x channels) arrays (``InputDataFormats`` otherwise, :mod:`matkeras.data.formats`),
and MATLAB's mini-batch options: ``MiniBatchSize`` (128), ``SequenceLength`` ("longest"),
``SequencePaddingValue`` (0), ``SequencePaddingDirection`` ("right"). Recurrent layers start
from the network's stored state (``net.State``; the initial state unless a stateful prediction
stored another), as :func:`matkeras.inference.predict` does. Sources: MathWorks' pages
minibatchpredict.html and testnet.html (mathworks.com/help/deeplearning/ref/); how MATLAB pads
sequence outputs with ``UniformOutput`` true is UNCONFIRMED here (matkeras: module notes of
:func:`minibatchpredict`).
"""

import keras
import numpy as np

from matkeras import inference
from matkeras import metrics as M
from matkeras.data.formats import read_sequences, read_targets

__all__ = ["minibatchpredict", "testnet"]


def minibatchpredict(net, X, mini_batch_size=128, input_formats="auto", uniform_output=True,
                     sequence_length="longest", padding_value=0.0, padding_direction="right"):
    """MATLAB's ``Y = minibatchpredict(net, X, Name=Value)``.

    Args:
        net: a DLNetwork or a built ``keras.Model``.
        X: a list of ``(T_n, C)`` sequences, an ``(N, T, C)`` array or one ``(T, C)``
            sequence (or what `input_formats` names).
        mini_batch_size: ``MiniBatchSize`` (128).
        input_formats: ``InputDataFormats`` ("auto").
        uniform_output: ``UniformOutput`` (True): sequence outputs come back as one
            ``(N, T_max, K)`` array, each sequence's own steps placed as the padding direction
            says and the rest filled with `padding_value`; False gives a list of ``(T_n, K)``
            arrays. Sequence-to-one outputs are ``(N, K)`` either way.
        sequence_length: ``SequenceLength``: "longest", "shortest" or a positive integer.
        padding_value: ``SequencePaddingValue`` (0).
        padding_direction: ``SequencePaddingDirection``: "right" or "left".

    Returns:
        ``(N, K)``; ``(N, T_max, K)`` or a list for sequence outputs; one observation's
        ``(T, K)`` when X is one sequence.
    """
    from matkeras.dlnetwork import as_model

    model = as_model(net, "minibatchpredict", initialize=False)
    output = inference.predict(
        model, read_sequences(X, input_formats), mini_batch_size=mini_batch_size,
        sequence_length=sequence_length, padding_value=padding_value,
        padding_direction=padding_direction)
    if not isinstance(output, list) or not uniform_output:
        return output
    longest = max(len(y) for y in output)
    padded = np.full((len(output), longest, *output[0].shape[1:]), padding_value,
                     dtype=output[0].dtype)
    for row, y in enumerate(output):
        if padding_direction == "right":
            padded[row, :len(y)] = y
        else:
            padded[row, longest - len(y):] = y
    return padded


def testnet(net, X, T, metrics, mini_batch_size=128, input_formats="auto",
            target_formats="auto", sequence_length="longest", padding_value=0.0,
            padding_direction="right", class_names=None):
    """MATLAB's ``metricValues = testnet(net, X, T, metrics, Name=Value)``.

    Args:
        net, X: as :func:`minibatchpredict`.
        T: the targets: labels (one per observation or one array per sequence), a pandas
            Categorical, one-hot rows, or numeric responses (``(N, R)`` or per-step
            ``(T_n, R)`` arrays).
        metrics: a metric name (``"accuracy"``, ``"rmse"``, ``"mse"``, ``"mae"``,
            ``"precision"``, ``"recall"``, ``"fscore"``, or a loss name such as
            ``"crossentropy"``), a function ``f(Y, T)``, or a list of them.
        target_formats: ``TargetDataFormats`` ("auto").
        class_names: the class order of the network's outputs (matkeras addition; default
            MATLAB's ``categories(T)``; pass trainnet's ``info.ClassNames`` when the test
            labels miss a class).
        mini_batch_size, input_formats, sequence_length, padding_value, padding_direction:
            as :func:`minibatchpredict`.

    Returns:
        The metric's value (a float) for one metric, else an array in `metrics`' order.
        Accuracy is in percent, as MATLAB gives it; values are over every observation's own
        time steps (padding excluded).
    """
    from matkeras.categorical import encode_labels
    from matkeras.dlnetwork import as_model
    from matkeras.trainnet import _is_label_array

    model = as_model(net, "testnet", initialize=False)
    sequences, single = inference._observations(model, read_sequences(X, input_formats), "TC")
    scores = minibatchpredict(model, sequences, mini_batch_size, "auto", False,
                              sequence_length, padding_value, padding_direction)
    if isinstance(scores, list):  # sequence-to-sequence: every step of every observation
        items = [T] if single else list(T)
        if len(items) != len(scores):
            raise ValueError(f"testnet: {len(scores)} sequences but {len(items)} targets.")
        if all(_is_label_array(t) for t in items):
            names = class_names if class_names is not None else \
                _classes(np.concatenate([np.ravel(np.asarray(t)) for t in items]))
            _check_classes(names, scores[0].shape[-1])
            items = [encode_labels(np.ravel(t), names, "testnet targets")[0] for t in items]
        else:
            items = [np.asarray(t, dtype=np.float64) for t in read_targets(items,
                                                                           target_formats)]
            items = [t[:, None] if t.ndim == 1 else t for t in items]
        for n, (s, t) in enumerate(zip(scores, items, strict=True)):
            if len(t) != len(s):
                raise ValueError(f"testnet: target {n} has {len(t)} time steps; its sequence "
                                 f"has {len(s)}.")
        y, t = np.concatenate(scores), np.concatenate(items)
    else:
        y = scores
        T = np.asarray([T]) if single and np.ndim(T) <= 1 and not hasattr(T, "codes") else T
        if _is_label_array(T):
            t, names = encode_labels(T, class_names, "testnet targets")
            t = np.ravel(t)
            _check_classes(names, y.shape[-1])
        else:
            t = np.asarray(read_targets(T, target_formats), dtype=np.float64)
            t = t[:, None] if t.ndim == 1 else t
        if len(t) != len(y):
            raise ValueError(f"testnet: {len(y)} observations but {len(t)} targets.")
    specs = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
    values = []
    for spec in specs:
        metric = M.get(spec, y.shape[-1], allow_losses=True)
        metric.update_state(t, y)
        values.append(float(keras.ops.convert_to_numpy(metric.result())))
    return values[0] if len(specs) == 1 and not isinstance(metrics, (list, tuple)) else \
        np.asarray(values)


testnet.__test__ = False  # a MATLAB verb, not a pytest test when imported in tests


def _classes(labels):
    from matkeras.categorical import class_names

    return class_names(labels)


def _check_classes(names, outputs):
    if len(names) != outputs and not (outputs == 1 and len(names) == 2):
        raise ValueError(
            f"testnet: the targets have {len(names)} classes {[str(n) for n in names][:20]} "
            f"but the network outputs {outputs} scores. Pass the training classes: "
            "class_names=info.ClassNames (MATLAB's categorical keeps them).")
