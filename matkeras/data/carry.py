"""Split-sequence training: the recurrent state carried from chunk to chunk while ``model.fit``
runs the chunks of a :class:`~matkeras.data.SequenceDataset` with an integer ``sequence_length``.

MATLAB's integer ``SequenceLength`` pads each mini-batch to its longest sequence and cuts it into
chunks of L steps; every chunk is one iteration (one optimizer step), the recurrent states are
carried from chunk to chunk (the forward half only for BiLSTM) with the gradient truncated at the
chunk border, and a new mini-batch starts from the layers' initial states. The dataset makes the
chunks; :class:`CarryStateBetweenChunks` (``dataset.callbacks()``) carries the state
(TensorFlow backend).
"""

import contextlib

import keras

from matkeras.layers.stateful import stateful_layers

__all__ = ["CarryStateBetweenChunks", "ChunkCarry"]


class ChunkCarry:
    """One recurrent layer's carried states during split-sequence training.

    The states live in TensorFlow variables with a free batch axis; `first` (shared by every
    layer of the model) says whether the current chunk starts a new mini-batch.
    """

    def __init__(self, layer, first):
        import tensorflow as tf

        width = layer.state_width
        dtype = layer.variable_dtype
        self.first = first
        # Under a tf.distribute strategy every replica carries the states of its own rows (the
        # same rows of each chunk of a mini-batch): variables each replica reads and writes
        # for itself (synchronized on read, never read across replicas)
        own = {"synchronization": tf.VariableSynchronization.ON_READ,
               "aggregation": tf.VariableAggregation.NONE} if tf.distribute.has_strategy() else {}
        self.variables = [
            tf.Variable(tf.zeros((0, width), dtype), shape=tf.TensorShape([None, width]),
                        trainable=False, name=f"{layer.name}_carried_{argument}", **own)
            for argument, _ in layer.state_names]

    def start(self, initial):
        """The chunk's start states: `initial` on a new mini-batch, else the carried ones."""
        import tensorflow as tf

        carried = [tf.cast(v.read_value(), s.dtype) for s, v in
                   zip(initial, self.variables, strict=True)]
        return tf.cond(self.first, lambda: list(initial), lambda: carried)

    def keep(self, states):
        """Stores the chunk's final states for the next chunk (no gradient flows back)."""
        import tensorflow as tf

        for variable, state in zip(self.variables, states, strict=True):
            variable.assign(tf.stop_gradient(tf.cast(state, variable.dtype)))


class CarryStateBetweenChunks(keras.callbacks.Callback):
    """Carries recurrent state between the chunks of a :class:`~matkeras.data.SequenceDataset`
    with an integer ``sequence_length`` during ``model.fit`` (MATLAB's split-sequence training).

    Get it from ``dataset.callbacks()`` and pass ``shuffle=False`` to ``model.fit`` (Keras would
    otherwise shuffle the chunks; this callback then stops with an error); ``trainNetwork``
    does both itself. Only training steps
    carry state; validation and prediction run the recurrent layers from their initial states
    (use :func:`matkeras.inference.predict` with ``sequence_length=L`` for chunked prediction).
    """

    def __init__(self, dataset):
        super().__init__()
        if not getattr(dataset, "chunked", False):
            raise ValueError("CarryStateBetweenChunks needs a SequenceDataset with an integer "
                             "sequence_length (the chunk length).")
        self.dataset = dataset
        self._layers, self._first, self._starts = [], None, []
        self._across_fits = False

    @contextlib.contextmanager
    def across_fits(self):
        """Keeps the carry in the model's train function from one ``model.fit`` call to the
        next inside the ``with`` block (one trace for all of them, not one per call), and takes
        it out when the block ends. trainNetwork runs epochs whose chunk count changes one fit
        call each inside such a block."""
        self._across_fits = True
        try:
            yield self
        finally:
            self._across_fits = False
            if self._layers:
                self._remove()

    def on_train_begin(self, logs=None):
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError("Split-sequence training with carried state needs the "
                               "TensorFlow backend.")
        import tensorflow as tf

        self._epoch = len(self.dataset._schedules) - 1
        self._count = None
        if self._layers and all(layer.chunk_carry is not None for layer in self._layers):
            return  # kept from the previous fit call (across_fits)
        self._first = tf.Variable(True, trainable=False, name="matkeras_chunk_starts_batch")
        self._layers = stateful_layers(self.model)
        for layer in self._layers:
            layer.chunk_carry = ChunkCarry(layer, self._first)
        self.model.make_train_function(force=True)  # trace again, with the carry in the graph

    def on_epoch_begin(self, epoch, logs=None):
        self._starts = self.dataset.chunk_starts(self._epoch)
        if self._count is None:
            self._count = len(self._starts)
        elif len(self._starts) != self._count:
            raise RuntimeError(
                f"This epoch has {len(self._starts)} chunks, the first had {self._count}: "
                "with shuffle='every-epoch' and no sorting the chunk count changes between "
                "epochs, and model.fit fixes an epoch's steps when it starts. Pass "
                "sort_by_length=True, or train with matkeras.matlab.trainNetwork (which "
                "runs such epochs one fit call at a time).")

    def on_epoch_end(self, epoch, logs=None):
        self._epoch += 1

    def on_train_batch_begin(self, batch, logs=None):
        # Keras runs a PyDataset's batches in order when fit has shuffle=False: step k trains on
        # batch k of the epoch's schedule.
        self._first.assign(bool(self._starts[batch]) if batch < len(self._starts) else True)

    def on_train_batch_end(self, batch, logs=None):
        served = self.dataset._served  # filled as batches are made (not in worker processes)
        if served:
            index, _ = served.popleft()
            if index != batch:
                raise RuntimeError(
                    f"model.fit fed the chunks of a split-sequence SequenceDataset out of order "
                    f"(step {batch} trained on chunk {index}) "
                    "(Keras shuffles a PyDataset's batches unless told not to): pass "
                    "shuffle=False to model.fit; the dataset's own shuffle option is MATLAB's "
                    "Shuffle.")

    def on_train_end(self, logs=None):
        if not self._across_fits:
            self._remove()

    def _remove(self):
        for layer in self._layers:
            layer.chunk_carry = None
        self._layers = []
        self.model.make_train_function(force=True)  # later fits train without the carry
