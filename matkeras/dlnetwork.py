"""MATLAB's ``dlnetwork`` object: a network of layers without output layers, the object
``trainnet`` returns and the current MATLAB workflow builds (R2019b+, the recommended one since
R2024a).

A :class:`DLNetwork` holds its layers (a layer array or graph) and, once initialized, the Keras
functional model built from them (``net.model``); every matkeras verb that takes a
``keras.Model`` also takes a DLNetwork, and the trainnet-era verbs take both. MATLAB's
properties read in MATLAB's shapes:

- ``net.Layers``: the layers, input layer first (matkeras layers).
- ``net.Learnables``: a :class:`~matkeras._table.Table` with columns Layer, Parameter, Value:
  one row per learnable in MATLAB's layout and name (an LSTM's ``InputWeights`` 4H x C,
  ``RecurrentWeights``, ``Bias``; fullyConnectedLayer ``Weights`` OutputSize x InputSize and
  ``Bias``; normalization ``Offset``/``Scale``; convolution ``Weights``/``Bias`` in Keras's
  kernel layout, as matkeras's views). Values are numpy copies; assigning a table back
  (``net.Learnables = table``) writes them.
- ``net.State``: the same columns for the state: recurrent layers' ``HiddenState`` and
  ``CellState`` as MATLAB's (NumHiddenUnits*directions) x N arrays (one column per observation
  after a stateful prediction of N observations, one column before), batch normalization's
  ``TrainedMean``/``TrainedVariance`` (C x 1). ``net.State = state`` sets them (the dlnetwork
  way of ``predictAndUpdateState``, with ``predict(net, X, nargout=2)``).

Graph editing as MATLAB does it on a dlnetwork (``addLayers``, ``connectLayers``,
``disconnectLayers``, ``removeLayers``, ``replaceLayer``; the methods ``add_layers``, ``connect``,
``disconnect``, ``remove_layers``, ``replace_layer``) goes through
:class:`matkeras.network.LayerGraph` and returns a new, uninitialized network (MATLAB's rule for
edited dlnetworks): ``initialize`` builds it, and layers that were already initialized keep their
learnables (fine-tuning: replace the last fullyConnectedLayer, keep the rest).

Networks are handles, not MATLAB values: ``resetState(net)``, ``net.State = ...`` and trainnet
change the network itself (and return it), as the classic verbs of :mod:`matkeras.inference` do.
The graph edits and ``dlnetwork(layers)`` copy layers, so one layer array can make several
networks and an edit leaves the network it started from as it was.
"""

import keras
import numpy as np

from matkeras import inference
from matkeras._table import Table
from matkeras.layers import MatlabMapping, RecurrentLayer

__all__ = ["DLNetwork", "as_model", "as_network"]

_COLUMNS = ("Layer", "Parameter", "Value")


class DLNetwork:
    """MATLAB's ``dlnetwork``.

    Args:
        layers: a layer array (matkeras layers, a sequence input layer first, no output
            layer), a :class:`matkeras.network.LayerGraph`, nothing (MATLAB's empty
            ``net = dlnetwork``, to fill with ``addLayers``), or a built ``keras.Model``
            (wrapped as it is: a matkeras addition, as MATLAB's ``dag2dlnetwork``).
        initialize: MATLAB's ``Initialize`` (True): build the model and initialize the
            learnables now; False keeps the layers until :meth:`initialize`.

    Example:
        >>> from matkeras.matlab import dlnetwork, sequenceInputLayer, lstmLayer
        >>> net = dlnetwork([sequenceInputLayer(3), lstmLayer(4)])
        >>> net.Learnables.Parameter
        ['InputWeights', 'RecurrentWeights', 'Bias']
    """

    def __init__(self, layers=(), initialize=True):
        self._model = None
        if isinstance(layers, keras.Model):
            if not layers.built:
                raise ValueError("dlnetwork: the keras.Model is not built; call it on data or "
                                 "give it an Input first.")
            self._model, self._graph, self._array = layers, None, False
            return
        self._graph, self._array = _graph_of(layers)
        if initialize and self._graph.layers:  # MATLAB's empty `net = dlnetwork` is not
            self.initialize()

    # -- construction and editing ----------------------------------------------------------

    def initialize(self):
        """MATLAB's ``net = initialize(net)``: builds the model; learnables already set keep
        their values, the others get their initializers'. Returns the network."""
        if self._model is None:
            from matkeras.network import LayerGraph, assemble_network

            layers = self._graph.layers
            copies = [_copy(layer) for layer in layers]
            source = copies if self._array else LayerGraph(copies, self._graph.connections)
            self._model = assemble_network(source, compile=False)
            for layer, copy in zip(layers, copies, strict=True):
                if layer.built and layer.weights:
                    copy.set_weights(layer.get_weights())
        return self

    def _edited(self, graph):
        """A new, uninitialized network of `graph` (its layers keep their weights)."""
        edited = DLNetwork.__new__(DLNetwork)
        edited._model, edited._graph, edited._array = None, graph, False
        return edited

    def _current_graph(self):
        from matkeras.network import LayerGraph

        if self._graph is None:
            raise ValueError("This dlnetwork wraps a keras.Model; its graph cannot be edited. "
                             "Build it from layers (dlnetwork(layers) or a layerGraph) to use "
                             "addLayers, connectLayers, removeLayers or replaceLayer.")
        if self._model is None:
            return self._graph
        layers = [self._model.get_layer(layer.name) for layer in self._graph.layers]
        return LayerGraph(layers, self._graph.connections)

    def add_layers(self, *layers):
        """MATLAB's ``net = addLayers(net, layers)``: the layers added (an array is connected
        in order among itself); the result is an uninitialized network (MATLAB's rule) whose
        existing layers keep their learnables."""
        return self._edited(self._current_graph().add_layers(*layers))

    def connect(self, source, destination):
        """MATLAB's ``net = connectLayers(net, source, destination)``."""
        return self._edited(self._current_graph().connect(source, destination))

    def disconnect(self, source, destination):
        """MATLAB's ``net = disconnectLayers(net, source, destination)``."""
        return self._edited(self._current_graph().disconnect(source, destination))

    def remove_layers(self, names):
        """MATLAB's ``net = removeLayers(net, layerNames)``."""
        return self._edited(self._current_graph().remove_layers(names))

    def replace_layer(self, name, layers):
        """MATLAB's ``net = replaceLayer(net, layerName, layers)``."""
        return self._edited(self._current_graph().replace_layer(name, layers))

    @property
    def Initialized(self):
        """MATLAB ``Initialized``: whether the learnables are initialized (the model built)."""
        return self._model is not None

    @property
    def model(self):
        """The ``keras.Model`` (initialized networks only)."""
        if self._model is None:
            raise ValueError("The dlnetwork is not initialized: call initialize(net) first "
                             "(MATLAB: net = initialize(net)).")
        return self._model

    # -- MATLAB's properties ----------------------------------------------------------------

    @property
    def Layers(self):
        """MATLAB ``Layers``: the network's layers, input layer first."""
        if self._graph is not None:
            return list(self._current_graph().layers)
        return [layer for layer in self._model.layers
                if not isinstance(layer, keras.layers.InputLayer)]

    @property
    def Connections(self):
        """MATLAB ``Connections``: a table of Source and Destination port names."""
        return Table(["Source", "Destination"], self._current_graph().connections)

    @property
    def InputNames(self):
        """MATLAB ``InputNames``: the input layers' names."""
        from matkeras.network import is_input_layer

        return [layer.name for layer in self.Layers if is_input_layer(layer)]

    @property
    def OutputNames(self):
        """MATLAB ``OutputNames``: the outputs of the network (``'layer'`` or
        ``'layer/port'``)."""
        if self._graph is not None:
            return self._current_graph().output_names
        names = []
        for output in self._model.outputs:
            names += [layer.name for layer in self.Layers if layer.output is output][:1]
        return names

    @property
    def Learnables(self):
        """MATLAB ``Learnables`` (see the module notes)."""
        table = Table(_COLUMNS)
        for layer in self.Layers:
            if layer.built:
                for parameter, value in _learnables(layer):
                    table.append([layer.name, parameter, value])
        return table

    @Learnables.setter
    def Learnables(self, table):
        _assign(self, table, "Learnables")

    @property
    def State(self):
        """MATLAB ``State`` (see the module notes)."""
        table = Table(_COLUMNS)
        if self._model is None:
            return table
        stored = inference.get_state(self._model)
        for layer in self.Layers:
            if layer.name in stored:
                for argument, prop in layer.state_names:
                    table.append([layer.name, prop, stored[layer.name][argument].T.copy()])
            elif isinstance(layer, MatlabMapping) and layer.built:
                for prop, value in layer.matlab_states().items():  # batch normalization
                    table.append([layer.name, prop, value.reshape(-1, 1)])
        return table

    @State.setter
    def State(self, table):
        _assign(self, table, "State")

    # -- use --------------------------------------------------------------------------------

    def predict(self, X, nargout=1, **options):
        """MATLAB's ``Y = predict(net, X)`` / ``[Y, state] = predict(net, X)`` (``nargout=2``):
        the outputs from the stored state; the state after the last step comes back as a
        State table and is not stored. X and options as :func:`matkeras.inference.predict`
        (``mini_batch_size``, ``layout``...)."""
        if nargout == 1:
            return inference.predict(self.model, X, **options)
        if nargout != 2:
            raise ValueError(f"predict returns Y or [Y, state]: nargout must be 1 or 2; "
                             f"received {nargout!r}.")
        output, state = inference.predict_with_state(self.model, X, **options)
        return output, state_table(self, state)

    def __repr__(self):
        status = "initialized" if self.Initialized else "not initialized"
        return (f"dlnetwork ({status}) with {len(self.Layers)} layers: "
                f"inputs {self.InputNames}, outputs {self.OutputNames}")


def state_table(net, state):
    """A State table from :func:`matkeras.inference.get_state`'s dict (recurrent layers),
    the other rows (batch normalization) as the network holds them."""
    current = net.State
    table = Table(_COLUMNS)
    for row in current:
        layer, parameter, value = row["Layer"], row["Parameter"], row["Value"]
        if layer in state:
            argument = _argument(net, layer, parameter)
            value = np.asarray(state[layer][argument]).T.copy()
        table.append([layer, parameter, value])
    return table


def _argument(net, layer_name, parameter):
    layer = next(item for item in net.Layers if item.name == layer_name)
    return {prop: argument for argument, prop in layer.state_names}[parameter]


def _graph_of(layers):
    """(LayerGraph, whether it came from a layer array)."""
    from matkeras.network import LayerGraph

    if isinstance(layers, LayerGraph):
        return LayerGraph(layers.layers, layers.connections), False
    if isinstance(layers, keras.layers.Layer):
        layers = [layers]
    layers = list(layers)
    if not all(isinstance(layer, keras.layers.Layer) for layer in layers):
        raise TypeError("dlnetwork takes a layer array, a layer graph or a keras.Model; "
                        f"received {[type(x).__name__ for x in layers]}.")
    return LayerGraph(layers), bool(layers)


def _copy(layer):
    """A new layer of the same class and configuration (its weights are set after building)."""
    return layer.__class__.from_config(layer.get_config())


def _learnables(layer):
    """(MATLAB parameter name, MATLAB-layout value) pairs of one layer's learnables: the layer's
    own MATLAB mapping (``matlab_learnables``), else its Keras variables by name."""
    if isinstance(layer, MatlabMapping):
        return list(layer.matlab_learnables().items())
    return [(variable.path.split("/")[-1], keras.ops.convert_to_numpy(variable))
            for variable in layer.trainable_weights]


def _assign(net, table, what):
    """Writes a Learnables or State table (Layer, Parameter, Value rows) into the network."""
    if not isinstance(table, Table) or table.columns[:3] != list(_COLUMNS):
        raise TypeError(f"net.{what} must be set to a table with columns Layer, Parameter, "
                        f"Value (as net.{what} returns); received {type(table).__name__}.")
    layers = {layer.name: layer for layer in net.Layers}
    states, values = {}, {}
    for row in table:
        name, parameter = row["Layer"], row["Parameter"]
        if name not in layers:
            raise ValueError(f"net.{what}: the network has no layer named {name!r}; its layers "
                             f"are {sorted(layers)}.")
        layer = layers[name]
        if isinstance(layer, RecurrentLayer) and parameter in dict(
                (prop, a) for a, prop in layer.state_names):
            argument = _argument(net, name, parameter)
            states.setdefault(name, {})[argument] = np.asarray(row["Value"]).T
        elif not isinstance(layer, MatlabMapping) or parameter not in layer.matlab_keywords():
            raise ValueError(f"net.{what}: layer {name!r} has no MATLAB parameter "
                             f"{parameter!r} matkeras can set.")
        else:
            values.setdefault(name, {})[parameter] = row["Value"]
    for name, arguments in values.items():
        layers[name].set_matlab_properties(**arguments)
    if states:
        inference.set_state(net.model, states)


def as_network(net, function, refuse_output_layers=False):
    """`net` itself when it is a keras.Model or a DLNetwork, else a new DLNetwork of the layer
    array or graph (refusing output layers for the trainnet-era verbs)."""
    from matkeras.layers import Classification, Regression

    if isinstance(net, (keras.Model, DLNetwork)):
        return net
    if refuse_output_layers:
        for position, layer in enumerate(_graph_of(net)[0].layers, start=1):
            if isinstance(layer, (Classification, Regression)):
                raise ValueError(
                    f"{function}: layer {position} ('{layer.name}', {type(layer).__name__}) is "
                    "an output layer; trainnet-era networks have none: remove it and name the "
                    "loss instead (classificationLayer -> 'crossentropy', regressionLayer -> "
                    "'mse').")
    return DLNetwork(net)


def as_model(net, function, initialize=True):
    """The ``keras.Model`` of `net` (a keras.Model, a DLNetwork, a layer array or graph), for
    the verb `function` (named in errors)."""
    if isinstance(net, keras.Model):
        if not net.built:
            raise ValueError(f"{function}: the keras.Model is not built; call it on data or "
                             "give it an Input first.")
        return net
    if isinstance(net, DLNetwork):
        if not net.Initialized and not initialize:
            raise ValueError(f"{function}: the dlnetwork is not initialized; call "
                             "initialize(net) first.")
        return net.initialize().model
    return DLNetwork(net).model
