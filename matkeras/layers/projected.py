"""MATLAB's lstmProjectedLayer and gruProjectedLayer as Keras layers."""

import keras
import numpy as np

from matkeras.layers._views import ProjectorsMixin
from matkeras.layers.gru import GRU
from matkeras.layers.lstm import LSTM

_PROJECTOR_ARGS = ("input_projector_initializer", "output_projector_initializer",
                   "input_projector_l2_factor", "output_projector_l2_factor",
                   "input_projector_learn_rate_factor", "output_projector_learn_rate_factor")


class _Projected(ProjectorsMixin):
    """Shared by the projected layers: projector options, config, to_unprojected()."""

    _PLAIN = None  # the unprojected class

    def __init__(self, units, output_projector_size, input_projector_size,
                 input_projector_initializer="orthogonal",
                 output_projector_initializer="orthogonal", input_projector_l2_factor=1.0,
                 output_projector_l2_factor=1.0, input_projector=None, output_projector=None,
                 **kwargs):
        projectors = {k: v for k, v in locals().items()
                      if k not in ("self", "__class__", "units", "kwargs")}
        super().__init__(units, projectors=projectors, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(output_projector_size=self.output_projector_size,
                      input_projector_size=self.input_projector_size)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def to_unprojected(self):
        """The equivalent plain layer: ``W = W' Q_i^T``, ``R = R' Q_o^T``, same options/states.

        This is what MATLAB's exportNetworkToTensorFlow exports for a projected layer.
        """
        self._require_built("the projected weights")
        config = self.get_config()
        for key in ("output_projector_size", "input_projector_size", *_PROJECTOR_ARGS):
            config.pop(key, None)
        config["name"] = f"{self.name}_unprojected"
        plain = self._PLAIN.from_config(config)
        states = {a: self._matlab_value(a) for a, _ in self._STATES}
        plain.set_matlab_weights(
            input_weights=self.input_weights @ self.input_projector.T,
            recurrent_weights=self.recurrent_weights @ self.output_projector.T,
            bias=self.bias, **({} if self.has_state_inputs else states),
        )
        return plain

    def count_matlab_learnables(self):
        """The number of learnable parameters, as MATLAB's network analyzer counts them."""
        self._require_built("the projected weights")
        return int(sum(np.prod(v.shape) for v in self.trainable_weights))


def _projected_docstring(kind, matlab_name, plain, gates):
    return f"""{kind} layer with projected learnables: MATLAB's ``{matlab_name}``.

    MATLAB replaces each weight product ``W x`` by ``W Q Q^T x`` and stores ``Q`` and
    ``W' = W Q``: the gate pre-activations are ``W' (Q_i^T x_t) + R' (Q_o^T h_{{t-1}}) + b`` and the
    rest is :class:`{plain}`'s equations. The factored products are what runs (fewer parameters
    and FLOPs than the plain layer); ``to_unprojected()`` returns the equivalent
    :class:`{plain}`. Hidden (and cell) states stay H wide.

    Learnables (MATLAB layout): ``input_projector`` (C, InputProjectorSize),
    ``output_projector`` (H, OutputProjectorSize), ``input_weights`` ({gates}H,
    InputProjectorSize), ``recurrent_weights`` ({gates}H, OutputProjectorSize), ``bias``. The
    projectors' Keras variables (``input_projector_variable``, ``output_projector_variable``) have
    MATLAB's layout.

    Args:
        units: ``NumHiddenUnits``.
        output_projector_size: ``OutputProjectorSize``.
        input_projector_size: ``InputProjectorSize``.
        input_projector_initializer: ``InputProjectorInitializer`` (``"orthogonal"``).
        output_projector_initializer: ``OutputProjectorInitializer`` (``"orthogonal"``).
        input_projector_l2_factor: ``InputProjectorL2Factor`` (1).
        output_projector_l2_factor: ``OutputProjectorL2Factor`` (1).
        input_projector, output_projector: explicit MATLAB-layout initial values.
        **kwargs: every option of :class:`{plain}`.

    Input shape / Output shape: as :class:`{plain}`.
    """


@keras.saving.register_keras_serializable(package="matkeras")
class LSTMProjected(_Projected, LSTM):
    __doc__ = _projected_docstring("LSTM", "lstmProjectedLayer", "matkeras.layers.LSTM", 4)
    _LAYER = "LSTMProjected"
    _PLAIN = LSTM
    MATLAB_CLASS = "nnet.cnn.layer.LSTMProjectedLayer"


@keras.saving.register_keras_serializable(package="matkeras")
class GRUProjected(_Projected, GRU):
    __doc__ = _projected_docstring("GRU", "gruProjectedLayer", "matkeras.layers.GRU", 3)
    _LAYER = "GRUProjected"
    _PLAIN = GRU
    MATLAB_CLASS = "nnet.cnn.layer.GRUProjectedLayer"
