"""MATLAB's solvers (trainingOptions 'sgdm', 'adam', 'rmsprop') as Keras optimizers.

The updates follow MATLAB's documented equations (``sgdmupdate``, ``adamupdate``,
``rmspropupdate``), with per-parameter learn-rate factors: a learnable's step uses
``learning_rate * factor`` (a vector factor scales each gate block). Keras's own Adam puts epsilon
inside its bias correction (``epsilon_hat``); MATLAB's adds it to ``sqrt(v_hat)``, as here.

Gradient clipping uses Keras's arguments: ``clipnorm`` is MATLAB's ``'l2norm'`` (per parameter),
``global_clipnorm`` its ``'global-l2norm'`` and ``clipvalue`` its ``'absolute-value'``.
"""

import keras
import numpy as np
from keras import ops

from matkeras.ops.precision import constants, maximum, minimum
from matkeras.ops.replicas import replica_context

__all__ = ["SGDM", "Adam", "RMSProp", "learn_rate_multipliers"]


def learn_rate_multipliers(model):
    """``{variable path: multiplier}`` from the learn-rate factors of `model`'s layers."""
    found = {}

    def visit(layer):
        if hasattr(layer, "learn_rate_multipliers") and layer.built:
            for variable, value in layer.learn_rate_multipliers():
                found[variable.path] = value
        for sub in getattr(layer, "layers", None) or ():
            visit(sub)

    visit(model)
    return found


class _MatlabSolver(keras.optimizers.Optimizer):
    def __init__(self, learning_rate, multipliers, name, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.multipliers = {str(path): (float(v) if np.ndim(v) == 0 else
                                        [float(x) for x in np.ravel(v)])
                            for path, v in (multipliers or {}).items()}

    _SLOTS = ()  # the per-variable state each solver keeps

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._paths = [v.path for v in var_list]
        self._slot_variables = [[self.add_variable_from_reference(v, name) for v in var_list]
                                for name in self._SLOTS]

    def _slot(self, which, variable):
        return self._slot_variables[which][self._index(variable)]

    def _index(self, variable):
        # Keras's documented way for a custom optimizer to find a variable's slots (the
        # TensorFlow backend hands update_step the backend variable, not the Keras one).
        return self._get_variable_index(variable)

    def _rate(self, learning_rate, variable):
        rate = ops.cast(learning_rate, variable.dtype)
        factor = self.multipliers.get(self._paths[self._index(variable)])
        return rate if factor is None else rate * ops.convert_to_tensor(
            np.asarray(factor), dtype=variable.dtype)

    def _clip_gradients(self, grads):
        """MATLAB's gradient threshold, where Keras's ``apply`` clips (before the update, on
        every backend), computed in the gradients' dtype: Keras's own clipping takes its
        maximum in float32 on PyTorch and JAX (1.6e-9 off in float64). Under a
        ``tf.distribute`` strategy with several replicas the threshold applies to the whole
        mini-batch's gradient (MATLAB's, one device's), not to each replica's part as Keras's
        does: the parts are summed, clipped, and handed on as equal shares (the update sums
        the shares)."""
        if all(value is None for value in (self.clipnorm, self.clipvalue,
                                           self.global_clipnorm)):
            return grads
        grads = list(grads)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            # dense, as MATLAB's gradients are (TensorFlow gives an embedding's gradient as
            # tf.IndexedSlices, which has no arithmetic)
            grads = [g if g is None else tf.convert_to_tensor(g) for g in grads]
        present = [k for k, g in enumerate(grads) if g is not None]
        parts = [grads[k] for k in present]
        context = replica_context()
        if context is not None:
            parts = context.all_reduce("sum", parts)
        clipped = self._clipped(parts)
        if context is not None:
            share = 1.0 / context.num_replicas_in_sync
            clipped = [value * ops.cast(share, value.dtype) for value in clipped]
        for k, value in zip(present, clipped, strict=True):
            grads[k] = value
        return grads

    def _clipped(self, grads):
        """MATLAB's gradient thresholds (the Keras argument set) on whole gradients."""
        if self.clipvalue is not None:
            return [minimum(maximum(g, -self.clipvalue), self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            return [g * minimum(self.clipnorm / maximum(ops.sqrt(ops.sum(g * g)), 1e-30), 1.0)
                    for g in grads]
        total = ops.sqrt(sum(ops.sum(g * g) for g in grads))
        factor = minimum(self.global_clipnorm / maximum(total, 1e-30), 1.0)
        return [g * factor for g in grads]

    def get_config(self):
        return {**super().get_config(), "multipliers": self.multipliers}


@keras.saving.register_keras_serializable(package="matkeras")
class SGDM(_MatlabSolver):
    """MATLAB 'sgdm': ``v = momentum*v - lr*factor*g; w = w + v``."""

    _SLOTS = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum=0.9, multipliers=None, name="sgdm",
                 **kwargs):
        super().__init__(learning_rate, multipliers, name, **kwargs)
        self.momentum = float(momentum)

    def update_step(self, gradient, variable, learning_rate):
        velocity = self._slot(0, variable)
        gradient = ops.cast(gradient, variable.dtype)
        (momentum,) = constants(variable.dtype, self.momentum)
        self.assign(velocity, momentum * velocity - self._rate(learning_rate, variable)
                    * gradient)
        self.assign_add(variable, velocity)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}


@keras.saving.register_keras_serializable(package="matkeras")
class Adam(_MatlabSolver):
    """MATLAB 'adam': ``w -= lr*factor * m_hat / (sqrt(v_hat) + epsilon)``."""

    _SLOTS = ("m", "v")

    def __init__(self, learning_rate=0.001, gradient_decay_factor=0.9,
                 squared_gradient_decay_factor=0.999, epsilon=1e-8, multipliers=None,
                 name="matlab_adam", **kwargs):
        super().__init__(learning_rate, multipliers, name, **kwargs)
        self.gradient_decay_factor = float(gradient_decay_factor)
        self.squared_gradient_decay_factor = float(squared_gradient_decay_factor)
        self.epsilon = float(epsilon)

    def update_step(self, gradient, variable, learning_rate):
        m, v = self._slot(0, variable), self._slot(1, variable)
        b1, b2 = self.gradient_decay_factor, self.squared_gradient_decay_factor
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        b1, b2, rest1, rest2, one, epsilon = constants(variable.dtype, b1, b2, 1 - b1,
                                                       1 - b2, 1.0, self.epsilon)
        self.assign(m, b1 * m + rest1 * gradient)
        self.assign(v, b2 * v + rest2 * ops.square(gradient))
        m_hat = m / (one - ops.power(b1, step))
        v_hat = v / (one - ops.power(b2, step))
        self.assign_sub(variable, self._rate(learning_rate, variable) * m_hat
                        / (ops.sqrt(v_hat) + epsilon))

    def get_config(self):
        return {**super().get_config(), "gradient_decay_factor": self.gradient_decay_factor,
                "squared_gradient_decay_factor": self.squared_gradient_decay_factor,
                "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="matkeras")
class RMSProp(_MatlabSolver):
    """MATLAB 'rmsprop': ``v = b2*v + (1-b2)*g^2; w -= lr*factor * g / (sqrt(v) + epsilon)``."""

    _SLOTS = ("v",)

    def __init__(self, learning_rate=0.001, squared_gradient_decay_factor=0.9, epsilon=1e-8,
                 multipliers=None, name="matlab_rmsprop", **kwargs):
        super().__init__(learning_rate, multipliers, name, **kwargs)
        self.squared_gradient_decay_factor = float(squared_gradient_decay_factor)
        self.epsilon = float(epsilon)

    def update_step(self, gradient, variable, learning_rate):
        v = self._slot(0, variable)
        gradient = ops.cast(gradient, variable.dtype)
        b2, rest2, epsilon = constants(variable.dtype, self.squared_gradient_decay_factor,
                                       1 - self.squared_gradient_decay_factor, self.epsilon)
        self.assign(v, b2 * v + rest2 * ops.square(gradient))
        self.assign_sub(variable, self._rate(learning_rate, variable) * gradient
                        / (ops.sqrt(v) + epsilon))

    def get_config(self):
        return {**super().get_config(),
                "squared_gradient_decay_factor": self.squared_gradient_decay_factor,
                "epsilon": self.epsilon}
