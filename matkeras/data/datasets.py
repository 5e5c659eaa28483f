"""Mini-batches the MATLAB way for Keras's ``model.fit``/``evaluate``/``predict``."""

import keras
import numpy as np

from matkeras.data.padding import _as_time_major, pad_sequences

SHUFFLES = ("once", "never", "every-epoch")
TARGET_PADDINGS = ("weighted-out", "counted")


class SequenceDataset(keras.utils.PyDataset):
    """Sequences in mini-batches with MATLAB's trainingOptions sequence handling.

    Each mini-batch of ``mini_batch_size`` observations (in the order ``shuffle`` gives) is
    padded as ``SequenceLength``/``SequencePaddingDirection``/``SequencePaddingValue`` say.
    Targets may be one per observation (sequence-to-label: integer labels ``(N,)`` or responses
    ``(N, R)``) or one per time step (sequence-to-sequence: a list of ``(T_i,)`` or ``(T_i, R)``
    arrays, padded like the inputs). Padded target steps get sample weight 0 by default
    (``target_padding="weighted-out"``); ``"counted"`` counts them in the loss, as R2017b's
    trainNetwork did.

    Args:
        sequences: list of ``(T_i, C)`` (or ``(T_i, h, w, c)``) arrays; ``(C, T_i)`` with
            ``layout="CT"``.
        targets: None (prediction), ``(N,)``/``(N, R)`` array, or a list of per-step targets.
        mini_batch_size: ``MiniBatchSize`` (128).
        sequence_length: ``SequenceLength``: ``"longest"`` (default) or ``"shortest"``.
            (MATLAB's integer lengths split sequences with state carried between chunks; that
            needs stateful training, which this class does not do yet: use
            :func:`matkeras.data.split_sequences` for the chunks themselves.)
        padding_direction: ``SequencePaddingDirection``: ``"right"`` or ``"left"``.
        padding_value: ``SequencePaddingValue`` (0).
        shuffle: ``Shuffle``: ``"once"`` (default), ``"never"`` or ``"every-epoch"``.
        sort_by_length: sort observations by length first (MATLAB examples do, to cut padding).
        target_padding: ``"weighted-out"`` (default) or ``"counted"``.
        layout: ``"TC"`` or ``"CT"``.
        seed: for the shuffles.
        **kwargs: ``keras.utils.PyDataset`` arguments (``workers``, ``use_multiprocessing``,
            ``max_queue_size``).

    Example:
        >>> import numpy as np
        >>> data = SequenceDataset([np.ones((3, 2)), np.ones((5, 2))], np.array([0, 1]),
        ...                        mini_batch_size=2, shuffle="never")
        >>> data[0][0].shape
        (2, 5, 2)
    """

    def __init__(self, sequences, targets=None, mini_batch_size=128, sequence_length="longest",
                 padding_direction="right", padding_value=0.0, shuffle="once",
                 sort_by_length=False, target_padding="weighted-out", layout="TC", seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.sequences = _as_time_major(sequences, layout)
        if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, int) or \
                mini_batch_size <= 0:
            raise ValueError(f"mini_batch_size (MATLAB 'MiniBatchSize') must be a positive "
                             f"integer; received {mini_batch_size!r}.")
        if sequence_length not in ("longest", "shortest"):
            raise ValueError(
                f"sequence_length (MATLAB 'SequenceLength') must be 'longest' or 'shortest' "
                f"here; received {sequence_length!r}. Integer lengths (split sequences with "
                "carried state) are not supported by SequenceDataset yet.")
        for name, value, allowed in (("shuffle", shuffle, SHUFFLES),
                                     ("target_padding", target_padding, TARGET_PADDINGS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; received {value!r}.")
        self.targets = self._check_targets(targets, layout)
        self.mini_batch_size = mini_batch_size
        self.sequence_length = sequence_length
        self.padding_direction = padding_direction
        self.padding_value = padding_value
        self.shuffle = shuffle
        self.target_padding = target_padding
        self._rng = np.random.default_rng(seed)
        self.sort_by_length = sort_by_length
        order = np.arange(len(self.sequences))
        self.order = self._arranged(order if shuffle == "never" else self._rng.permutation(order))

    def _arranged(self, order):
        """`order`, stably sorted by sequence length when ``sort_by_length`` is set."""
        if not self.sort_by_length:
            return order
        lengths = np.array([len(self.sequences[i]) for i in order])
        return order[np.argsort(lengths, kind="stable")]

    def _check_targets(self, targets, layout):
        if targets is None:
            return None
        if isinstance(targets, (list, tuple)) and targets and np.ndim(targets[0]) >= 1:
            per_step = [np.asarray(t) for t in targets]
            if layout == "CT":
                per_step = [t.T if t.ndim == 2 else t for t in per_step]
            for index, (target, sequence) in enumerate(zip(per_step, self.sequences,
                                                           strict=False)):
                if len(target) != len(sequence):
                    raise ValueError(f"Target {index} has {len(target)} time steps; its sequence "
                                     f"has {len(sequence)}.")
            result = per_step
        else:
            result = np.asarray(targets)
        if len(result) != len(self.sequences):
            raise ValueError(f"Received {len(self.sequences)} sequences but {len(result)} "
                             "targets.")
        return result

    def __len__(self):
        return -(-len(self.order) // self.mini_batch_size)

    def batch_indices(self, index):
        """The observations (indices into `sequences`) of mini-batch `index`."""
        return self.order[index * self.mini_batch_size:(index + 1) * self.mini_batch_size]

    def __getitem__(self, index):
        rows = self.batch_indices(index)
        options = {"length": self.sequence_length, "direction": self.padding_direction}
        x, _ = pad_sequences([self.sequences[i] for i in rows], value=self.padding_value,
                             dtype="float32", **options)
        if self.targets is None:
            return (x,)
        if isinstance(self.targets, list):
            y, mask = pad_sequences([self.targets[i] for i in rows], value=0, **options)
            if self.targets[0].ndim == 1:
                y = y[..., 0]
            if self.target_padding == "weighted-out":
                return x, y, mask.astype("float32")
            return x, y
        return x, self.targets[rows]

    def to_tf_dataset(self):
        """A ``tf.data.Dataset`` of the same mini-batches with a variable time axis.

        Keras builds the input signature of a ``PyDataset`` from its first two mini-batches, so
        when those two have the same length every later mini-batch must too. Pass this to
        ``model.fit`` when mini-batches differ in length beyond the first two (the shuffle
        still follows ``shuffle``: the order changes after each full pass).
        """
        import tensorflow as tf

        first = self[0]
        per_step = isinstance(self.targets, list)

        def spec(position, part):
            shape = [None, *np.shape(part)[1:]]
            if position == 0 or per_step:  # the time axis varies between mini-batches
                shape[1] = None
            return tf.TensorSpec(shape, tf.as_dtype(np.asarray(part).dtype))

        signature = tuple(spec(k, part) for k, part in enumerate(first))

        def batches():
            for index in range(len(self)):
                yield tuple(self[index])
            self.on_epoch_end()

        return tf.data.Dataset.from_generator(batches, output_signature=signature)

    def on_epoch_end(self):
        if self.shuffle == "every-epoch":
            self.order = self._arranged(self._rng.permutation(self.order))
