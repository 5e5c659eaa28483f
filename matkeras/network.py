"""MATLAB layer arrays (and layer graphs) as Keras functional models."""

import keras

from matkeras.layers._recurrent import RecurrentLayer
from matkeras.layers.folding import SequenceFolding, SequenceUnfolding
from matkeras.layers.outputs import Classification, Regression
from matkeras.layers.sequence_input import SequenceInput

RESPONSES = ("auto", "label", "sequence")


class LayerGraph:
    """MATLAB's ``layerGraph``: layers in order plus extra connections between named ports.

    Only the connections a layer array cannot express are kept (MATLAB's seed networks need one:
    ``fold/miniBatchSize -> unfold/miniBatchSize``); consecutive layers are connected in order.
    """

    def __init__(self, layers, connections=()):
        self.layers = list(layers)
        self.connections = [tuple(c) for c in connections]

    def connect(self, source, destination):
        """A new graph with ``source -> destination`` connected (``'name/port'`` strings)."""
        names = {layer.name for layer in self.layers}
        for end in (source, destination):
            if end.split("/")[0] not in names:
                raise ValueError(f"connectLayers: no layer named {end.split('/')[0]!r} in the "
                                 f"graph; its layers are {sorted(names)}.")
        return LayerGraph(self.layers, [*self.connections, (source, destination)])


def _label(position, layer):
    return f"layer {position} ('{layer.name}', {type(layer).__name__})"


def assemble_network(layers, connections=None, responses="auto", compile=True):  # noqa: A002
    """Builds a ``keras.Model`` from a MATLAB-style layer array, as MATLAB's assembleNetwork.

    Args:
        layers: a list of matkeras layers in MATLAB order (a :class:`SequenceInput` first, an
            output layer last), or a :class:`LayerGraph` (``matkeras.matlab.layerGraph``).
        connections: extra ``(source, destination)`` port connections, e.g.
            ``[("fold/miniBatchSize", "unfold/miniBatchSize")]``.
        responses: ``"label"`` (sequence-to-label: the output must not be a sequence),
            ``"sequence"`` (sequence-to-sequence) or ``"auto"`` (no check).
        compile: compile the model with the output layer's MATLAB loss and MATLAB's default
            solver (SGD with momentum 0.9, learning rate 0.01); classification adds accuracy.

    Returns:
        A functional ``keras.Model`` (compiled when the array ends in an output layer and
        ``compile`` is true). Errors name the offending layer and its 1-based position.

    Example:
        >>> from matkeras.matlab import (sequenceInputLayer, lstmLayer, fullyConnectedLayer,
        ...                              softmaxLayer, classificationLayer)
        >>> model = assemble_network([sequenceInputLayer(12),
        ...     lstmLayer(100, "OutputMode", "last"), fullyConnectedLayer(9), softmaxLayer(),
        ...     classificationLayer()])  # doctest: +SKIP
    """
    if isinstance(layers, LayerGraph):
        connections = [*layers.connections, *(connections or [])]
        layers = layers.layers
    layers, connections = list(layers), [tuple(c) for c in (connections or [])]
    if responses not in RESPONSES:
        raise ValueError(f"responses must be one of {RESPONSES}; received {responses!r}.")
    if not layers or not isinstance(layers[0], SequenceInput):
        found = _label(1, layers[0]) if layers else "an empty array"
        raise ValueError(
            f"The layer array must start with a sequence input layer (sequenceInputLayer / "
            f"matkeras.layers.SequenceInput); found {found}.")
    names = [layer.name for layer in layers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Layer names must be unique; repeated: {duplicates}.")
    for position, layer in enumerate(layers[1:], start=2):
        if isinstance(layer, SequenceInput):
            raise ValueError(f"{_label(position, layer)} is a second input layer; a layer array "
                             "has one input, first.")
        if isinstance(layer, (Classification, Regression)) and position != len(layers):
            raise ValueError(f"{_label(position, layer)} is an output layer; it must be last.")

    input_layer = layers[0]
    inputs = keras.Input((None, *input_layer.input_size), name=f"{input_layer.name}_data")
    x = input_layer(inputs)
    mini_batch_sizes = {}
    last_recurrent = None
    for position, layer in enumerate(layers[1:], start=2):
        try:
            if isinstance(layer, SequenceFolding):
                x, mini_batch_sizes[layer.name] = layer(x)
            elif isinstance(layer, SequenceUnfolding):
                x = layer([x, _mini_batch_size(layer, position, connections, mini_batch_sizes)])
            else:
                x = layer(x)
        except ValueError as error:
            raise ValueError(f"{_label(position, layer)}: {error}") from error
        if isinstance(layer, RecurrentLayer):
            last_recurrent = (position, layer)
    sequence_output = len(x.shape) >= 3
    if responses == "label" and sequence_output:
        culprit = (f"{_label(*last_recurrent)} has OutputMode 'sequence'"
                   if last_recurrent and last_recurrent[1].output_mode == "sequence"
                   else "the network keeps the time axis")
        raise ValueError(
            f"A sequence-to-label network must end without a time axis, but {culprit}; set "
            "OutputMode 'last' on the last recurrent layer (or add global pooling).")
    if responses == "sequence" and not sequence_output:
        raise ValueError("A sequence-to-sequence network must keep the time axis, but its "
                         "output has none (is a recurrent layer's OutputMode 'last'?).")
    model = keras.Model(inputs, x)
    output = layers[-1]
    if compile and isinstance(output, (Classification, Regression)):
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                      loss=output.loss,
                      metrics=["accuracy"] if isinstance(output, Classification) else None)
    return model


def _mini_batch_size(layer, position, connections, mini_batch_sizes):
    destination = f"{layer.name}/miniBatchSize"
    sources = [s for s, d in connections if d == destination]
    if not sources:
        raise ValueError(
            f"its miniBatchSize input is not connected; connect the folding layer to it, "
            f"e.g. connectLayers(lgraph, 'fold/miniBatchSize', '{destination}') or "
            f"connections=[('fold/miniBatchSize', '{destination}')].")
    fold = sources[0].split("/")[0]
    if fold not in mini_batch_sizes:
        raise ValueError(f"its miniBatchSize comes from {sources[0]!r}, but no folding layer "
                         f"named {fold!r} comes before it.")
    return mini_batch_sizes[fold]
