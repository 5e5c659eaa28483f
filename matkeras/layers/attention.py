"""MATLAB's selfAttentionLayer and attentionLayer as Keras layers."""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _masks, _options, initializers
from matkeras.layers._learn_rates import LearnRateFactorsMixin
from matkeras.layers._matlab import MatlabMapping
from matkeras.layers.regularizers import (
    DEFAULT_L2_REGULARIZATION,
    MatlabL2Mixin,
    check_l2_regularization,
)
from matkeras.ops.attention import causal_allowed, dot_product_attention
from matkeras.ops.precision import matmul

#: The four projections of a self-attention layer: (MATLAB prefix, snake-case prefix).
PROJECTIONS = (("Query", "query"), ("Key", "key"), ("Value", "value"), ("Output", "output"))


class _AttentionCore(_masks.PortsMixin):
    """Masks, dropout, the scores output and the ports, shared by both attention layers."""

    @property
    def checks_length(self):
        """Whether a call checks the sequence length against the layer (an AttentionMask
        matrix): ``matkeras._forward`` runs that check before a compiled call."""
        return not isinstance(self.attention_mask, str)

    def _take_attention_options(self, where, attention_mask, has_padding_mask_input,
                                has_scores_output, dropout_probability, use_mask, seed):
        self.attention_mask = _masks.check_attention_mask(attention_mask, where)
        flags = {arg: _options.boolean(value, argument=arg, matlab_property=prop, where=where)
                 for arg, prop, value in (
                     ("has_padding_mask_input", "HasPaddingMaskInput", has_padding_mask_input),
                     ("has_scores_output", "HasScoresOutput", has_scores_output),
                     ("use_mask", "(none: a matkeras option)", use_mask))}
        self.has_padding_mask_input = flags["has_padding_mask_input"]
        self.has_scores_output = flags["has_scores_output"]
        self.use_mask = flags["use_mask"]
        try:
            probability = float(dropout_probability)
        except (TypeError, ValueError):
            probability = float("nan")
        if not 0 <= probability < 1:
            raise ValueError(f"{where}: dropout_probability (MATLAB 'DropoutProbability') must be "
                             f"in [0, 1); received {dropout_probability!r}.")
        self.dropout_probability = probability
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if probability > 0 else None
        self.supports_masking = True

    def _allowed(self, query, key, padding, keras_mask):
        """The bool (B|1, 1, Tq, Tk) allowed-matrix, or None when nothing is masked."""
        if padding is None and self.use_mask and keras_mask is not None:
            padding = keras_mask
        allowed = None
        if padding is not None:
            allowed = ops.reshape(_masks.padding_steps(padding),
                                  (ops.shape(key)[0], 1, 1, -1))
        tq, tk = ops.shape(query)[1], ops.shape(key)[1]
        if isinstance(self.attention_mask, str):
            if self.attention_mask == "causal":
                causal = causal_allowed(tq, tk)[None, None]
                allowed = causal if allowed is None else ops.logical_and(allowed, causal)
            return allowed
        custom = self._custom_mask(query, key)
        return custom if allowed is None else ops.logical_and(allowed, custom)

    def _custom_mask(self, query, key):
        nk, nq = self.attention_mask.shape
        message = (f"{self._where}: the AttentionMask matrix is {nk}-by-{nq} (numKeys-by-"
                   "numQueries) but the input has {} keys and {} queries; give a mask that "
                   "matches the sequence length.")
        tq, tk = _masks.static_length(query), _masks.static_length(key)
        if tq is not None and tk is not None:
            if (tk, tq) != (nk, nq):
                raise ValueError(message.format(tk, tq))
        else:
            return _masks.runtime_check(
                ops.logical_and(ops.shape(key)[1] == nk, ops.shape(query)[1] == nq),
                message.format("a different number of", "or"),
                ops.convert_to_tensor(self.attention_mask.T[None, None]))
        return ops.convert_to_tensor(self.attention_mask.T[None, None])

    def _attend(self, query, key, value, num_heads, scale, padding, keras_mask, training):
        result = dot_product_attention(
            query, key, value, num_heads, scale=scale,
            allowed=self._allowed(query, key, padding, keras_mask),
            dropout=self.dropout_probability, training=bool(training),
            seed=self.seed_generator, return_weights=self.has_scores_output)
        return result if self.has_scores_output else (result, None)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.use_mask else None
        return [out, None] if self.has_scores_output else out

    def _attention_config(self):
        return {"attention_mask": _masks.attention_mask_config(self.attention_mask),
                "has_padding_mask_input": self.has_padding_mask_input,
                "has_scores_output": self.has_scores_output,
                "dropout_probability": self.dropout_probability, "use_mask": self.use_mask,
                "seed": self.seed}


_DOC_MASKS = """
    Masks (both act on the scores before the softmax; a masked score is excluded):
    ``attention_mask="causal"`` lets query q see keys k <= q only; a custom ``attention_mask``
    is a MATLAB-oriented numKeys-by-numQueries logical matrix. With
    ``has_padding_mask_input=True`` the layer takes the padding mask as its last input
    (MATLAB port ``"mask"``: (batch, time) or (batch, time, C), nonzero = data; of a 3-D mask the
    first channel counts, as MathWorks' TensorFlow exporter reads it): padded *keys* are
    excluded, so every non-padded query gives what it gives for the observation alone; padded
    queries still get outputs (MATLAB computes them too). Without a padding mask MATLAB attends
    to padded steps like data, and so does this layer (``use_mask=True`` honours a Keras mask as
    the padding mask instead: a deliberate deviation, off by default). A query with no allowed
    key gets uniform weights over all keys (MATLAB's formula would give NaN).
"""


@keras.saving.register_keras_serializable(package="matkeras")
class SelfAttention(MatlabMapping, _AttentionCore, LearnRateFactorsMixin, MatlabL2Mixin,
                    keras.layers.Layer):
    __doc__ = """Multihead self-attention: MATLAB's ``selfAttentionLayer(numHeads,
    numKeyChannels)``.

    Per observation, in MATLAB's column layout (X is C-by-T)::

        Q = W_Q X + b_Q    K = W_K X + b_K    V = W_V X + b_V
        head_h = V_h softmax_keys(mask(K_h' Q_h / sqrt(numKeyChannels/numHeads)))
        Y = W_O [head_1; ...; head_H] + b_O

    where Q_h, K_h are rows ``h*dk .. (h+1)*dk - 1`` (dk = numKeyChannels/numHeads) and V_h rows
    ``h*dv .. (h+1)*dv - 1`` (dv = NumValueChannels/numHeads). ``DropoutProbability`` drops
    attention weights while training (inverted dropout).
    """ + _DOC_MASKS + """
    Args:
        num_heads: ``NumHeads``, dividing num_key_channels and num_value_channels.
        num_key_channels: ``NumKeyChannels`` (queries and keys).
        num_value_channels: ``NumValueChannels`` (``"auto"``: NumKeyChannels).
        output_size: ``OutputSize`` (``"auto"``: the number of input channels).
        attention_mask: ``AttentionMask``: ``"none"`` (default), ``"causal"`` or a matrix.
        has_padding_mask_input: ``HasPaddingMaskInput`` (False).
        has_scores_output: ``HasScoresOutput`` (False): also return the attention weights,
            (batch, numHeads, numQueries, numKeys) (MATLAB's numKeys-by-numQueries-by-numHeads-
            by-batch array, transposed), before dropout.
        dropout_probability: ``DropoutProbability`` (0).
        weights_initializer: ``WeightsInitializer`` (``"glorot"``) for the four weight matrices.
        bias_initializer: ``BiasInitializer`` (``"zeros"``) for the four biases.
        weights_l2_factor: ``WeightL2Factor`` (1). bias_l2_factor: ``BiasL2Factor`` (0).
        l2_regularization: MATLAB's global ``L2Regularization`` (1e-4).
        query_weights, key_weights, value_weights, output_weights, query_bias, key_bias,
            value_bias, output_bias: explicit MATLAB values (``QueryWeights`` numKeyChannels-by-C,
            ``ValueWeights`` NumValueChannels-by-C, ``OutputWeights`` OutputSize-by-
            NumValueChannels, biases as columns).
        use_mask: False (MATLAB); True takes an incoming Keras mask as the padding mask.
        seed: the dropout's seed.
        **kwargs: Keras layer arguments, and ``weights_learn_rate_factor`` /
            ``bias_learn_rate_factor`` (MATLAB's ``WeightLearnRateFactor``/``BiasLearnRateFactor``).

    Input shape: ``(batch, time, C)``; with a padding mask ``[x, mask]``.
    Output shape: ``(batch, time, OutputSize)``; with scores ``[out, scores]``.

    Example:

    >>> import numpy as np
    >>> from matkeras.layers import SelfAttention
    >>> layer = SelfAttention(2, 8, attention_mask="causal")
    >>> layer(np.zeros((1, 5, 3), "float32")).shape
    TensorShape([1, 5, 3])
    >>> layer.query_weights.shape  # MATLAB layout, numKeyChannels x C
    (8, 3)
    """

    MATLAB_CLASS = "nnet.cnn.layer.SelfAttentionLayer"
    MATLAB_PROPERTIES = tuple(
        (f"{prefix}{kind.capitalize()}", f"{name}_{kind}", f"{name}_{kind}", "learnable")
        for kind in ("weights", "bias") for prefix, name in PROJECTIONS)

    def __init__(self, num_heads, num_key_channels, num_value_channels="auto",
                 output_size="auto", attention_mask="none", has_padding_mask_input=False,
                 has_scores_output=False, dropout_probability=0.0, weights_initializer="glorot",
                 bias_initializer="zeros", weights_l2_factor=1.0, bias_l2_factor=0.0,
                 l2_regularization=DEFAULT_L2_REGULARIZATION, query_weights=None,
                 key_weights=None, value_weights=None, output_weights=None, query_bias=None,
                 key_bias=None, value_bias=None, output_bias=None, use_mask=False, seed=None,
                 **kwargs):
        where = _options.layer_label("SelfAttention", kwargs.get("name"))
        num_heads = _options.positive_int(num_heads, argument="num_heads",
                                          matlab_property="NumHeads", where=where)
        sizes = {}
        for argument, prop, value in (("num_key_channels", "NumKeyChannels", num_key_channels),
                                      ("num_value_channels", "NumValueChannels",
                                       num_value_channels),
                                      ("output_size", "OutputSize", output_size)):
            if isinstance(value, str) and value.lower() == "auto" and argument != \
                    "num_key_channels":
                sizes[argument] = "auto"
                continue
            sizes[argument] = _options.positive_int(value, argument=argument,
                                                    matlab_property=prop, where=where)
        for argument, prop in (("num_key_channels", "NumKeyChannels"),
                               ("num_value_channels", "NumValueChannels")):
            size = sizes[argument]
            if size != "auto" and size % num_heads:
                raise ValueError(f"{where}: {argument} (MATLAB '{prop}') = {size} must be "
                                 f"divisible by num_heads (MATLAB 'NumHeads') = {num_heads}.")
        factors = {arg: _options.factor(value, blocks=1, argument=arg, matlab_property=prop,
                                        where=where)
                   for arg, prop, value in (("weights_l2_factor", "WeightL2Factor",
                                             weights_l2_factor),
                                            ("bias_l2_factor", "BiasL2Factor", bias_l2_factor))}
        inits = {
            "weights_initializer": initializers.get(
                weights_initializer, allowed=initializers.WEIGHT_INITIALIZERS,
                argument="weights_initializer", matlab_property="WeightsInitializer",
                where=where),
            "bias_initializer": initializers.get(
                bias_initializer, allowed=initializers.GRU_BIAS_INITIALIZERS,
                argument="bias_initializer", matlab_property="BiasInitializer", where=where),
        }
        l2 = check_l2_regularization(l2_regularization, where)
        self._take_learn_rate_factors(kwargs, where)
        super().__init__(**kwargs)
        self._where = where
        self._take_attention_options(where, attention_mask, has_padding_mask_input,
                                     has_scores_output, dropout_probability, use_mask, seed)
        self.num_heads = num_heads
        self.num_key_channels = sizes["num_key_channels"]
        self._num_value_channels = sizes["num_value_channels"]
        self._output_size = sizes["output_size"]
        self.weights_l2_factor = factors["weights_l2_factor"]
        self.bias_l2_factor = factors["bias_l2_factor"]
        self.weights_initializer, self.bias_initializer = weights_initializer, bias_initializer
        self._inits = inits
        self._l2_regularization = l2
        self._explicit = {"query_weights": query_weights, "key_weights": key_weights,
                          "value_weights": value_weights, "output_weights": output_weights,
                          "query_bias": query_bias, "key_bias": key_bias,
                          "value_bias": value_bias, "output_bias": output_bias}
        if any(self._explicit[k] is not None for k in
               ("query_weights", "key_weights", "value_weights")):
            self.set_matlab_weights(**self._explicit)  # the input size is known: build now

    # ---- sizes ---------------------------------------------------------------------------------
    @property
    def num_value_channels(self):
        """``NumValueChannels`` (numKeyChannels when given as ``"auto"``)."""
        value = self._num_value_channels
        return self.num_key_channels if value == "auto" else value

    @property
    def output_size(self):
        """``OutputSize`` (the input channels when ``"auto"``; None before the layer is built)."""
        if self._output_size == "auto":
            return getattr(self, "input_size", None)
        return self._output_size

    def _shapes(self):
        """{MATLAB snake name: (MATLAB shape, MATLAB property, shape text)}."""
        c, dk, dv, o = self.input_size, self.num_key_channels, self.num_value_channels, \
            self.output_size
        return {
            "query_weights": ((dk, c), "QueryWeights", "(NumKeyChannels, InputSize)"),
            "key_weights": ((dk, c), "KeyWeights", "(NumKeyChannels, InputSize)"),
            "value_weights": ((dv, c), "ValueWeights", "(NumValueChannels, InputSize)"),
            "output_weights": ((o, dv), "OutputWeights", "(OutputSize, NumValueChannels)"),
            "query_bias": ((dk,), "QueryBias", "(NumKeyChannels,)"),
            "key_bias": ((dk,), "KeyBias", "(NumKeyChannels,)"),
            "value_bias": ((dv,), "ValueBias", "(NumValueChannels,)"),
            "output_bias": ((o,), "OutputBias", "(OutputSize,)"),
        }

    # ---- Keras layer ---------------------------------------------------------------------------
    def build(self, input_shape):
        shape = self._data_shape(input_shape)
        if len(shape) != 3 or shape[-1] is None:
            raise ValueError(f"{self._where}: expected input of shape (batch, time, channels) "
                             f"with a known number of channels; received {tuple(shape)}.")
        self.input_size = int(shape[-1])
        shapes = self._shapes()
        checked = {k: self._check(k, v, shapes) for k, v in self._explicit.items()
                   if v is not None}
        for _, name in PROJECTIONS:
            rows, cols = shapes[f"{name}_weights"][0]
            setattr(self, f"{name}_kernel", self.add_weight(
                shape=(cols, rows), name=f"{name}_kernel",
                initializer=self._inits["weights_initializer"]))
            setattr(self, f"{name}_bias_variable", self.add_weight(
                shape=(rows,), name=f"{name}_bias", initializer=self._inits["bias_initializer"]))
        self.built = True
        self._attach_l2()
        self._assign(checked)

    def _kernels(self):
        return [getattr(self, f"{name}_kernel") for _, name in PROJECTIONS]

    def _biases(self):
        return [getattr(self, f"{name}_bias_variable") for _, name in PROJECTIONS]

    def _l2_targets(self):
        return ([(v, self.weights_l2_factor, -1) for v in self._kernels()]
                + [(v, self.bias_l2_factor, -1) for v in self._biases()])

    def call(self, inputs, mask=None, training=None):
        (x,), padding = self._split_inputs(inputs)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        dtype = x.dtype

        def project(data, name):
            return matmul(data, ops.cast(getattr(self, f"{name}_kernel"), dtype)) + ops.cast(
                getattr(self, f"{name}_bias_variable"), dtype)

        attended, scores = self._attend(project(x, "query"), project(x, "key"),
                                        project(x, "value"), self.num_heads, None, padding, mask,
                                        training)
        out = project(attended, "output")
        return [out, scores] if self.has_scores_output else out

    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if self.has_padding_mask_input else input_shape
        size = self._output_size if self._output_size != "auto" else shape[-1]
        out = (shape[0], shape[1], size)
        if self.has_scores_output:
            return [out, (shape[0], self.num_heads, shape[1], shape[1])]
        return out

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads,
                "num_key_channels": self.num_key_channels,
                "num_value_channels": self._num_value_channels,
                "output_size": self._output_size, **self._attention_config(),
                "weights_initializer": initializers.serialize(self.weights_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "weights_l2_factor": self.weights_l2_factor,
                "bias_l2_factor": self.bias_l2_factor,
                "l2_regularization": self._l2_regularization, **self._learn_rate_config()}

    # ---- learn-rate factors: one factor for the four weights, one for the four biases ----------
    def _learn_rate_parameters(self):
        return {"weights": ("Weight", "query_kernel", False),
                "bias": ("Bias", "query_bias_variable", False)}

    def learn_rate_multipliers(self):
        result = []
        for prefix, variables in (("weights", self._kernels()), ("bias", self._biases())):
            value = self._learn_rate_factors[f"{prefix}_learn_rate_factor"]
            if value != 1.0:
                result.extend((variable, value) for variable in variables)
        return result

    # ---- MATLAB-layout views -------------------------------------------------------------------
    def _check(self, key, value, shapes=None):
        shape, prop, text = (shapes or self._shapes())[key]
        if len(shape) == 1 and np.ndim(value) == 2 and 1 in np.shape(value):
            value = np.ravel(value)
        return _options.matlab_array(value, shape, matlab_property=prop, shape_text=text,
                                     where=self._where)

    def _assign(self, checked):
        for key, value in checked.items():
            name, kind = key.rsplit("_", 1)
            if kind == "weights":
                getattr(self, f"{name}_kernel").assign(value.T)
            else:
                getattr(self, f"{name}_bias_variable").assign(value)

    def _view(self, key):
        if not self.built:
            raise ValueError(f"{self._where}: {self._shapes_names()[key]} is not set yet: the "
                             "layer has no input size until it is built. Call the layer on "
                             "data, or set weights with set_matlab_weights().")
        name, kind = key.rsplit("_", 1)
        if kind == "weights":
            return ops.convert_to_numpy(getattr(self, f"{name}_kernel")).T
        return ops.convert_to_numpy(getattr(self, f"{name}_bias_variable"))

    @staticmethod
    def _shapes_names():
        return {f"{n}_{k}": f"{p}{k.capitalize()}" for p, n in PROJECTIONS
                for k in ("weights", "bias")}

    def set_matlab_weights(self, **values):
        """Sets ``QueryWeights`` ... ``OutputBias`` from MATLAB-layout arrays (snake-case
        keywords: ``query_weights`` (numKeyChannels, C), ``output_bias`` (OutputSize,) ...),
        checking their shapes; builds the layer from ``query_weights`` if needed."""
        unknown = sorted(set(values) - set(self._shapes_names()))
        if unknown:
            raise ValueError(f"{self._where}: unknown MATLAB properties {unknown}; expected "
                             f"some of {sorted(self._shapes_names())}.")
        values = {k: v for k, v in values.items() if v is not None}
        if not self.built:
            source = next((values[k] for k in ("query_weights", "key_weights", "value_weights")
                           if k in values), None)
            if source is None or np.ndim(source) != 2:
                raise ValueError(f"{self._where}: give query_weights (numKeyChannels, InputSize) "
                                 "to build the layer, or call it on data first.")
            shape = (None, None, int(np.shape(source)[1]))
            self.build([shape, (None, None)] if self.has_padding_mask_input else shape)
        self._assign({k: self._check(k, v) for k, v in values.items()})


def _matlab_view(key):
    def getter(self):
        return self._view(key)

    def setter(self, value):
        self.set_matlab_weights(**{key: value})

    prop = SelfAttention._shapes_names()[key]
    return property(getter, setter, doc=f"MATLAB ``{prop}`` (a numpy copy, MATLAB layout).")


for _prefix, _name in PROJECTIONS:
    for _kind in ("weights", "bias"):
        setattr(SelfAttention, f"{_name}_{_kind}", _matlab_view(f"{_name}_{_kind}"))


@keras.saving.register_keras_serializable(package="matkeras")
class Attention(_AttentionCore, keras.layers.Layer):
    __doc__ = """Dot-product attention with no learnables: MATLAB's ``attentionLayer(numHeads)``.

    Takes queries (batch, Tq, Dk), keys (batch, Tk, Dk) and values (batch, Tk, Dv) (MATLAB
    ports ``"query"``, ``"key"``, ``"value"``) and returns (batch, Tq, Dv): per head h (channel
    blocks of Dk/numHeads and Dv/numHeads), ``V_h softmax_keys(mask(Scale * K_h' Q_h))``.
    """ + _DOC_MASKS + """
    Args:
        num_heads: ``NumHeads``, dividing Dk and Dv.
        scale: ``Scale``: ``"auto"`` (1/sqrt(Dk/numHeads)) or a number.
        attention_mask, has_padding_mask_input, has_scores_output, dropout_probability,
            use_mask, seed: as :class:`SelfAttention` (the padding mask covers the keys).
        **kwargs: Keras layer arguments.

    Input shape: ``[query, key, value]`` (+ ``mask`` (batch, Tk[, C])).
    Output shape: ``(batch, Tq, Dv)``; with scores ``[out, (batch, numHeads, Tq, Tk)]``.
    """

    _DATA_INPUTS = ("query", "key", "value")

    MATLAB_CLASS = "nnet.cnn.layer.AttentionLayer"

    def __init__(self, num_heads, scale="auto", attention_mask="none",
                 has_padding_mask_input=False, has_scores_output=False, dropout_probability=0.0,
                 use_mask=False, seed=None, **kwargs):
        where = _options.layer_label("Attention", kwargs.get("name"))
        num_heads = _options.positive_int(num_heads, argument="num_heads",
                                          matlab_property="NumHeads", where=where)
        if not (isinstance(scale, str) and scale.lower() == "auto"):
            try:
                scale = float(scale)
            except (TypeError, ValueError):
                scale = float("nan")
            if not np.isfinite(scale):
                raise ValueError(f"{where}: scale (MATLAB 'Scale') must be \"auto\" or a finite "
                                 "number.")
        else:
            scale = "auto"
        super().__init__(**kwargs)
        self._where = where
        self._take_attention_options(where, attention_mask, has_padding_mask_input,
                                     has_scores_output, dropout_probability, use_mask, seed)
        self.num_heads, self.scale = num_heads, scale

    def build(self, input_shape):
        self._data_shape(input_shape)
        (_, _, dk), (_, _, dk2), (_, _, dv) = (tuple(s) for s in input_shape[:3])
        if dk != dk2:
            raise ValueError(f"{self._where}: queries have {dk} channels but keys {dk2}; they "
                             "must match.")
        for label, size in (("queries and keys", dk), ("values", dv)):
            if size is not None and size % self.num_heads:
                raise ValueError(f"{self._where}: the {label} have {size} channels, not "
                                 f"divisible by num_heads (MATLAB 'NumHeads') = {self.num_heads}.")
        self.built = True

    def call(self, inputs, mask=None, training=None):
        (query, key, value), padding = self._split_inputs(inputs)
        keras_mask = mask[1] if isinstance(mask, (list, tuple)) else mask
        scale = None if self.scale == "auto" else self.scale
        out, scores = self._attend(query, key, value, self.num_heads, scale, padding, keras_mask,
                                   training)
        return [out, scores] if self.has_scores_output else out

    def compute_output_shape(self, input_shape):
        query, key, value = input_shape[:3]
        out = (query[0], query[1], value[-1])
        if self.has_scores_output:
            return [out, (query[0], self.num_heads, query[1], key[1])]
        return out

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "scale": self.scale,
                **self._attention_config()}
