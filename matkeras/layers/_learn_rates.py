"""MATLAB's per-parameter learn-rate factors (``InputWeightsLearnRateFactor``, ...).

A factor multiplies the global learning rate for one learnable (per gate block when it is a
vector). The layers only store them; :mod:`matkeras.optimizers` applies them, and
``trainNetwork`` builds its optimizer with them.
"""

import numpy as np

from matkeras.layers import _options, layouts


class LearnRateFactorsMixin:
    """For layers with learnables MATLAB gives learn-rate factors.

    A layer defines ``_learn_rate_parameters()``: ``{argument prefix: (MATLAB property prefix,
    variable attribute, gated)}``; its constructor calls :meth:`_take_learn_rate_factors` on its
    ``**kwargs`` (which removes ``<prefix>_learn_rate_factor`` arguments) and adds
    :meth:`_learn_rate_config` to its config.
    """

    def _learn_rate_parameters(self):
        return {}

    def _take_learn_rate_factors(self, kwargs, where, blocks=1):
        factors = {}
        for prefix, (prop, _, gated) in self._learn_rate_parameters().items():
            argument = f"{prefix}_learn_rate_factor"
            factors[argument] = _options.factor(
                kwargs.pop(argument, 1.0), blocks=blocks if gated else 1, argument=argument,
                matlab_property=f"{prop}LearnRateFactor", where=where)
        self._learn_rate_factors = factors

    def _learn_rate_config(self):
        return dict(getattr(self, "_learn_rate_factors", {}))

    @property
    def learn_rate_factors(self):
        """``{argument: factor}``: MATLAB's learn-rate factors of this layer's learnables."""
        return dict(getattr(self, "_learn_rate_factors", {}))

    def learn_rate_multipliers(self):
        """``[(variable, multiplier)]`` for learnables whose factor is not 1: a float, or a
        vector over the variable's last axis (per gate block, Keras block order)."""
        result = []
        for prefix, (_, attribute, _) in self._learn_rate_parameters().items():
            value = self._learn_rate_factors[f"{prefix}_learn_rate_factor"]
            variable = getattr(self, attribute, None)
            if variable is None or np.all(np.asarray(value) == 1.0):
                continue
            if isinstance(value, list):

                chunks = self._bias_chunks() if attribute == "bias_variable" else 1
                per_block = np.asarray(layouts.factors_to_keras(self._KIND, value, chunks))
                width = variable.shape[-1] // per_block.size
                value = np.repeat(per_block, width)
            result.append((variable, value))
        return result
