"""The mean over a whole mini-batch when ``tf.distribute`` splits it across replicas.

Under a strategy with several replicas (``MirroredStrategy`` over GPUs or logical devices), each
replica computes the loss on its part of the mini-batch and the optimizer sums the replicas'
gradients. Keras's own losses divide each replica's mean by the replica count: the global mean
only when every part has the same size. MATLAB's losses divide the mini-batch's sum by its own
count (observations, or unpadded steps), whatever the split: :func:`mean_share` gives each
replica its sum over the global count (the count all-reduced), so the summed gradients are
exactly the global mean's (up to the order of the all-reduce's additions), and the loss Keras
shows is the mini-batch's. Outside a strategy, and on backends other than TensorFlow, it is
``total / count``.
"""

import keras
from keras import ops

from matkeras.ops.precision import divide_no_nan


def replica_context():
    """The replica context of a ``tf.distribute`` strategy with several replicas that the
    caller runs in, or None (one replica, no strategy, or a backend other than TensorFlow)."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        return None
    return context


def mean_share(total, count):
    """This replica's share of the mini-batch's mean: its gradient is that of
    ``total / (count summed over replicas)`` (the replicas' gradients add up to the mean's),
    its value the mean over the number of replicas (Keras shows the loss multiplied by the
    replica count and averaged over the replicas: the mean). ``total / count`` with one
    replica; 0 where the count is 0."""
    context = replica_context()
    if context is None:
        return divide_no_nan(total, count)
    count, summed = context.all_reduce("sum", [count, ops.stop_gradient(total)])  # one call
    share = divide_no_nan(total, count)
    whole = divide_no_nan(summed, count)
    shown = whole / ops.cast(context.num_replicas_in_sync, whole.dtype)
    return share + ops.stop_gradient(shown - share)


def replicas():
    """The number of replicas the caller's mini-batch is split across (1 outside a strategy)."""
    context = replica_context()
    return 1 if context is None else context.num_replicas_in_sync
