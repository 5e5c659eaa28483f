"""MATLAB layer arrays and layer graphs as Keras functional models: the one graph builder.

A MATLAB network is layers plus connections between their named ports: ``'fc'`` (a layer's
first port) or ``'add/in2'``, ``'fold/miniBatchSize'``, ``'lstm/hidden'``. A layer array is the
special case where each layer's first output feeds the next layer's first input.
:class:`LayerGraph` holds both and edits them as MATLAB's ``layerGraph`` does;
:func:`assemble_network` turns either into a ``keras.Model``. The converters use the same
builder for the DAGNetworks and dlnetworks they read.

Ports: a layer's input and output port names are MATLAB's ``InputNames``/``OutputNames``. Layers
with several ports say so with ``matlab_input_names``/``matlab_output_names``; the recurrent,
folding and output layers get theirs from :func:`ports`; every other layer has ``in``/``out``.
"""

import keras

from matkeras.layers import RecurrentLayer
from matkeras.layers.feature_input import FeatureInput
from matkeras.layers.folding import SequenceFolding, SequenceUnfolding
from matkeras.layers.image_input import ImageInput
from matkeras.layers.outputs import Classification, Regression
from matkeras.layers.sequence_input import SequenceInput

RESPONSES = ("auto", "label", "sequence")
_OUTPUT_LAYERS = (Classification, Regression)


def is_input_layer(layer):
    """True for MATLAB's input layers (sequenceInputLayer, featureInputLayer, ...): they make
    the model's ``keras.Input`` from their ``input_size``."""
    return isinstance(layer, (SequenceInput, FeatureInput, ImageInput))


def ports(layer):
    """``(input port names, output port names)`` of a layer, MATLAB's names."""
    if is_input_layer(layer):
        return (), ("out",)
    inputs = getattr(layer, "matlab_input_names", None)
    outputs = getattr(layer, "matlab_output_names", None)
    if isinstance(layer, SequenceFolding):
        inputs, outputs = ("in",), ("out", "miniBatchSize")
    elif isinstance(layer, SequenceUnfolding):
        inputs, outputs = ("in", "miniBatchSize"), ("out",)
    elif isinstance(layer, RecurrentLayer):
        states = tuple(prop.replace("State", "").lower() for _, prop in layer.state_names)
        inputs = ("in", *states) if layer.has_state_inputs else ("in",)
        outputs = ("out", *states) if layer.has_state_outputs else ("out",)
    return tuple(inputs or ("in",)), tuple(outputs or ("out",))


def _split(end):
    name, _, port = end.partition("/")
    return name, port


class LayerGraph:
    """MATLAB's ``layerGraph``: layers and the connections between their ports.

    ``LayerGraph(layers)`` connects a layer array in order, as ``layerGraph(layers)`` does;
    ``LayerGraph(layers, connections)`` takes the connections as given: ``(source,
    destination)`` pairs of ``'layer'`` or ``'layer/port'`` strings. Every edit returns a new
    graph (MATLAB's value semantics: ``lgraph = connectLayers(lgraph, ...)``).

    Example:
        >>> from matkeras.matlab import sequenceInputLayer, lstmLayer, fullyConnectedLayer
        >>> graph = LayerGraph([sequenceInputLayer(3, Name="in"), lstmLayer(8, Name="lstm"),
        ...                     fullyConnectedLayer(1, Name="fc")])  # doctest: +SKIP
        >>> graph.connections  # doctest: +SKIP
        [('in', 'lstm'), ('lstm', 'fc')]
    """

    def __init__(self, layers=(), connections=None):
        self.layers = list(layers)
        self.connections = ([tuple(c) for c in connections] if connections is not None
                            else _chain(self.layers))

    def __repr__(self):
        return (f"LayerGraph({len(self.layers)} layers, {len(self.connections)} connections; "
                f"inputs {self.input_names}, outputs {self.output_names})")

    @property
    def layer_names(self):
        return [layer.name for layer in self.layers]

    def layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r} in the graph; its layers are "
                         f"{self.layer_names}.")

    @property
    def input_names(self):
        """MATLAB's ``InputNames``: the input layers, in layer order."""
        return [layer.name for layer in self.layers if is_input_layer(layer)]

    @property
    def output_names(self):
        """MATLAB's ``OutputNames``: every output port nothing reads, in layer order."""
        used = {_resolve(self, source, outgoing=True) for source, _ in self.connections}
        found = []
        for layer in self.layers:
            names = ports(layer)[1]
            for port in names:
                if (layer.name, port) not in used and port != "miniBatchSize":
                    found.append(layer.name if port == names[0] else f"{layer.name}/{port}")
        return found

    def add_layers(self, *layers):
        """``addLayers``: adds a layer array (connected in order among itself)."""
        flat = [item for entry in layers
                for item in (entry if isinstance(entry, (list, tuple)) else [entry])]
        _check_unique([*self.layer_names, *(layer.name for layer in flat)])
        return LayerGraph([*self.layers, *flat], [*self.connections, *_chain(flat)])

    def connect(self, source, destination):
        """``connectLayers``: ``source -> destination`` (``'name'`` or ``'name/port'``)."""
        _resolve(self, source, outgoing=True)
        target = _resolve(self, destination, outgoing=False)
        for s, d in self.connections:
            if _resolve(self, d, outgoing=False) == target:
                raise ValueError(f"connectLayers: {destination!r} is already connected (from "
                                 f"{s!r}); disconnect it first (disconnectLayers).")
        return LayerGraph(self.layers, [*self.connections, (source, destination)])

    def disconnect(self, source, destination):
        """``disconnectLayers``."""
        key = (_resolve(self, source, outgoing=True), _resolve(self, destination, outgoing=False))
        kept = [c for c in self.connections if (_resolve(self, c[0], outgoing=True),
                                                 _resolve(self, c[1], outgoing=False)) != key]
        if len(kept) == len(self.connections):
            raise ValueError(f"disconnectLayers: {source!r} is not connected to "
                             f"{destination!r}.")
        return LayerGraph(self.layers, kept)

    def remove_layers(self, names):
        """``removeLayers``: the layers and every connection to or from them."""
        names = [names] if isinstance(names, str) else list(names)
        for name in names:
            self.layer(name)
        return LayerGraph([layer for layer in self.layers if layer.name not in names],
                          [(s, d) for s, d in self.connections
                           if _split(s)[0] not in names and _split(d)[0] not in names])

    def replace_layer(self, name, layers):
        """``replaceLayer``: a layer array takes the place of layer `name`; what fed the old
        layer's inputs feeds the array's first layer, and what read the old layer's outputs
        reads the array's last layer (port names kept)."""
        layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
        self.layer(name)
        _check_unique([*(n for n in self.layer_names if n != name),
                       *(layer.name for layer in layers)])
        first, last = layers[0].name, layers[-1].name
        rewired = []
        for source, destination in self.connections:
            s_name, s_port = _split(source)
            d_name, d_port = _split(destination)
            if s_name == name:
                source = f"{last}/{s_port}" if s_port else last
            if d_name == name:
                destination = f"{first}/{d_port}" if d_port else first
            rewired.append((source, destination))
        at = self.layer_names.index(name)
        return LayerGraph([*self.layers[:at], *layers, *self.layers[at + 1:]],
                          [*rewired, *_chain(layers)])


def _chain(layers):
    """A layer array's connections: each layer's first output to the next one's first input."""
    return [(a.name, b.name) for a, b in zip(layers, layers[1:], strict=False)]


def _check_unique(names):
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Layer names must be unique; repeated: {duplicates}.")


def _resolve(graph, end, outgoing):
    """``(layer name, port name)`` of a connection end; the first port when none is named."""
    name, port = _split(end)
    try:
        layer = graph.layer(name)
    except ValueError:
        raise ValueError(f"Connection end {end!r} names no layer of the network; its layers "
                         f"are {graph.layer_names}.") from None
    names = ports(layer)[1 if outgoing else 0]
    if not names:
        raise ValueError(f"Connection end {end!r}: layer {name!r} ({type(layer).__name__}) has "
                         f"no {'outputs' if outgoing else 'inputs'}.")
    if not port:
        return name, names[0]
    if port not in names:
        raise ValueError(f"Connection end {end!r}: layer {name!r} ({type(layer).__name__}) has "
                         f"no {'output' if outgoing else 'input'} port {port!r}; its ports are "
                         f"{list(names)}.")
    return name, port


def _label(position, layer):
    return f"layer {position} ('{layer.name}', {type(layer).__name__})"


def _check_array(layers):
    """The rules of a MATLAB layer array (one input first, output layers last)."""
    if not layers or not is_input_layer(layers[0]):
        found = _label(1, layers[0]) if layers else "an empty array"
        raise ValueError(
            f"The layer array must start with a sequence input layer (sequenceInputLayer / "
            f"matkeras.layers.SequenceInput) or another input layer; found {found}.")
    for position, layer in enumerate(layers[1:], start=2):
        if is_input_layer(layer):
            raise ValueError(f"{_label(position, layer)} is a second input layer; a layer array "
                             "has one input, first (use a LayerGraph for several inputs).")
        if isinstance(layer, _OUTPUT_LAYERS) and position != len(layers):
            raise ValueError(f"{_label(position, layer)} is an output layer; it must be last.")


def assemble_network(layers, connections=None, responses="auto", compile=True,  # noqa: A002
                     output_names=None):
    """Builds a ``keras.Model`` from a MATLAB layer array or layer graph (MATLAB's
    ``assembleNetwork``, and what ``dlnetwork(lgraph)`` builds).

    Args:
        layers: a list of matkeras layers in MATLAB order (an input layer first, an output
            layer, if any, last), or a :class:`LayerGraph` (``matkeras.matlab.layerGraph``).
        connections: extra ``(source, destination)`` port connections on top of the array's or
            graph's own, e.g. ``[("fold/miniBatchSize", "unfold/miniBatchSize")]``.
        responses: ``"label"`` (sequence-to-label: the output must not be a sequence),
            ``"sequence"`` (sequence-to-sequence) or ``"auto"`` (no check).
        compile: compile the model with the output layer's MATLAB loss and MATLAB's default
            solver (SGD with momentum 0.9, learning rate 0.01); classification adds accuracy.
            Networks without output layers (dlnetworks) are never compiled.
        output_names: MATLAB's ``OutputNames`` (``'layer'`` or ``'layer/port'``): which outputs
            the model returns, in this order. Default: every output port nothing reads.

    Returns:
        A functional ``keras.Model`` with one ``keras.Input`` per input layer (in layer order,
        named ``<layer>_data``) and the outputs in ``output_names`` order. Errors name the
        offending layer with its 1-based position, or the connection.

    Example:
        >>> from matkeras.matlab import (sequenceInputLayer, lstmLayer, fullyConnectedLayer,
        ...                              softmaxLayer, classificationLayer)
        >>> model = assemble_network([sequenceInputLayer(12),
        ...     lstmLayer(100, "OutputMode", "last"), fullyConnectedLayer(9), softmaxLayer(),
        ...     classificationLayer()])  # doctest: +SKIP
    """
    if responses not in RESPONSES:
        raise ValueError(f"responses must be one of {RESPONSES}; received {responses!r}.")
    if isinstance(layers, LayerGraph):
        graph = layers
    else:
        layers = list(layers)
        _check_array(layers)
        _check_unique([layer.name for layer in layers])
        graph = LayerGraph(layers)
    if connections:
        for source, destination in connections:
            graph = graph.connect(source, destination)
    return _build(graph, responses, compile, output_names)


def _build(graph, responses, compile, output_names):  # noqa: A002
    layers = graph.layers
    _check_unique(graph.layer_names)
    position = {layer.name: index + 1 for index, layer in enumerate(layers)}
    feeds = {}  # (layer, input port) -> (layer, output port)
    for source, destination in graph.connections:
        try:
            src = _resolve(graph, source, outgoing=True)
            dst = _resolve(graph, destination, outgoing=False)
        except ValueError as error:
            raise ValueError(f"Connection {source!r} -> {destination!r}: {error}") from None
        if dst in feeds:
            raise ValueError(f"Connection {source!r} -> {destination!r}: input {destination!r} "
                             f"is already fed by '{'/'.join(feeds[dst])}'.")
        feeds[dst] = src
    for layer in layers:
        for port in ports(layer)[0]:
            if (layer.name, port) not in feeds:
                raise ValueError(_dangling(layer, port, position[layer.name]))
    order = _topological(graph, feeds, position)

    outputs_of, inputs = {}, []
    last_recurrent = None
    for layer in order:
        label = _label(position[layer.name], layer)
        in_ports, out_ports = ports(layer)
        if is_input_layer(layer):
            shape = ((None, *layer.input_size) if isinstance(layer, SequenceInput)
                     else tuple(layer.input_size))
            inputs.append(keras.Input(shape, name=f"{layer.name}_data"))
            arguments = inputs[-1]
        else:
            given = [outputs_of[feeds[(layer.name, port)]] for port in in_ports]
            arguments = given[0] if len(given) == 1 else given
        try:
            result = layer(arguments)
        except ValueError as error:
            sources = ", ".join(f"{port} <- '{'/'.join(feeds[(layer.name, port)])}' "
                                f"{tuple(outputs_of[feeds[(layer.name, port)]].shape)}"
                                for port in in_ports)
            fed = f" (inputs: {sources})" if len(in_ports) > 1 else ""
            raise ValueError(f"{label}{fed}: {error}") from error
        results = list(result) if len(out_ports) > 1 else [result]
        for port, tensor in zip(out_ports, results, strict=True):
            outputs_of[(layer.name, port)] = tensor
        if isinstance(layer, RecurrentLayer):
            last_recurrent = (position[layer.name], layer)

    names = list(output_names) if output_names else graph.output_names
    ends = [_resolve(graph, name, outgoing=True) for name in names]
    outputs = [outputs_of[end] for end in ends]
    if len(outputs) == 1:
        _check_responses(responses, outputs[0], last_recurrent)
    model = keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                        outputs[0] if len(outputs) == 1 else outputs)
    heads = [graph.layer(name) for name, _ in ends]
    if compile and heads and all(isinstance(head, _OUTPUT_LAYERS) for head in heads):
        losses = [head.loss for head in heads]
        metrics = [["accuracy"] if isinstance(h, Classification) else [] for h in heads]
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                      loss=losses[0] if len(heads) == 1 else losses,
                      metrics=(metrics[0] or None) if len(heads) == 1 else metrics)
    return model


def _dangling(layer, port, position):
    if port == "miniBatchSize":
        return (f"{_label(position, layer)}: its miniBatchSize input is not connected; connect "
                f"the folding layer to it, e.g. connectLayers(lgraph, 'fold/miniBatchSize', "
                f"'{layer.name}/miniBatchSize') or connections=[('fold/miniBatchSize', "
                f"'{layer.name}/miniBatchSize')].")
    return (f"{_label(position, layer)}: its input '{layer.name}/{port}' is not connected; "
            f"connect a layer's output to it (connectLayers) or remove the layer.")


def _topological(graph, feeds, position):
    """The layers in an order where each comes after what feeds it (layer order on ties)."""
    waiting = {layer.name: {src for (dst, _), (src, _) in feeds.items() if dst == layer.name}
               for layer in graph.layers}
    order, done = [], set()
    while len(order) < len(graph.layers):
        ready = [layer for layer in graph.layers
                 if layer.name not in done and waiting[layer.name] <= done]
        if not ready:
            stuck = sorted((s, d) for (d, _), (s, _) in feeds.items()
                           if d not in done and s not in done)
            cycle = ", ".join(f"'{s}' -> '{d}'" for s, d in stuck)
            raise ValueError(f"The network's connections form a cycle among layers "
                             f"{sorted(set(n for pair in stuck for n in pair), key=position.get)}"
                             f" (connections {cycle}); a MATLAB network must be acyclic.")
        order.append(ready[0])
        done.add(ready[0].name)
    return order


def _check_responses(responses, output, last_recurrent):
    sequence_output = len(output.shape) >= 3
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
