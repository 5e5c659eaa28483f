"""Mini-batches the MATLAB way for Keras's ``model.fit``/``evaluate``/``predict``."""

import collections
import numbers
import threading

import keras
import numpy as np

from matkeras.data.padding import as_time_major, pad_sequences, split_sequences

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
        sequence_length: ``SequenceLength``: ``"longest"`` (default), ``"shortest"``, or a
            positive int L: each mini-batch is padded to its longest sequence and cut into
            chunks of L steps, and every chunk is one batch (one optimizer step), in order.
            Sequence-to-label targets go with every chunk, per-step targets are cut alike.
            Train with ``callbacks=dataset.callbacks()`` so the recurrent state is carried
            from chunk to chunk, as MATLAB does (``trainNetwork`` does this itself).
        padding_direction: ``SequencePaddingDirection``: ``"right"`` or ``"left"``.
        padding_value: ``SequencePaddingValue`` (0).
        shuffle: ``Shuffle``: ``"once"`` (default), ``"never"`` or ``"every-epoch"``.
        sort_by_length: sort observations by length first (MATLAB examples do, to cut padding).
        bucket_by_length: mini-batches of observations of similar length (less padding), in an
            order shuffled as ``shuffle`` says (not a MATLAB option).
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
                 bucket_by_length=False, **kwargs):
        super().__init__(**kwargs)
        self.sequences = self._load(sequences, layout)
        self._lengths = np.array([self._length_of(i) for i in range(len(self.sequences))])
        if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, int) or \
                mini_batch_size <= 0:
            raise ValueError(f"mini_batch_size (MATLAB 'MiniBatchSize') must be a positive "
                             f"integer; received {mini_batch_size!r}.")
        if sequence_length not in ("longest", "shortest") and (
                isinstance(sequence_length, bool)
                or not isinstance(sequence_length, numbers.Integral) or sequence_length <= 0):
            raise ValueError(
                f"sequence_length (MATLAB 'SequenceLength') must be 'longest', 'shortest' or a "
                f"positive integer; received {sequence_length!r}.")
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
        self.bucket_by_length = bucket_by_length
        order = np.arange(len(self._lengths))
        self._schedules = []  # one per epoch: the batches (mini-batch rows, chunk) in order
        self._served = collections.deque()  # chunked: batch indices in the order served
        self._cache, self._cache_lock = collections.OrderedDict(), threading.Lock()
        self._set_order(self._arranged(order if shuffle == "never" else
                                       self._rng.permutation(order)))
        self._part = None  # (index, count): this process makes only that part of each batch
        self._template = None  # a batch made, for the shapes of a part with no rows
        self._held = False  # restored: the next epoch's order is set, epoch ends wait for it
        self._pinned = False  # one fit call's epoch: its order stays (pin/unpin)
        self._epoch_state = self.state()

    # Where the sequences come from: a list in memory here; Datastore reads files lazily.
    def _load(self, sequences, layout):
        return as_time_major(sequences, layout)

    def _length_of(self, index):
        return len(self.sequences[index])

    def _sequence(self, index):
        return self.sequences[index]

    @property
    def chunked(self):
        """True when an integer sequence_length splits mini-batches into chunks."""
        return not isinstance(self.sequence_length, str)

    def _arranged(self, order):
        """`order`, stably sorted by sequence length when sorting or bucketing; buckets (the
        mini-batches of the sorted order) then come in a shuffled order unless shuffle is
        "never"."""
        if not (self.sort_by_length or self.bucket_by_length):
            return order
        lengths = self._lengths[order]
        order = order[np.argsort(lengths, kind="stable")]
        if self.bucket_by_length and self.shuffle != "never":
            size = self.mini_batch_size
            buckets = [order[k:k + size] for k in range(0, len(order), size)]
            order = np.concatenate([buckets[i] for i in self._rng.permutation(len(buckets))])
        return order

    def _set_order(self, order):
        self.order = order
        batches = []
        for first in range(0, len(order), self.mini_batch_size):
            rows = order[first:first + self.mini_batch_size]
            chunks = 1
            if self.chunked:
                longest = int(self._lengths[rows].max())
                chunks = -(-longest // self.sequence_length)
            batches.extend((rows, chunk) for chunk in range(chunks))
        self._batches = batches
        self._schedules.append([chunk == 0 for _, chunk in batches])

    def chunk_starts(self, epoch=-1):
        """For each batch of epoch `epoch` (counted from this dataset's creation; the current
        one by default), whether it starts a new mini-batch (where the state resets)."""
        return list(self._schedules[epoch])

    def callbacks(self):
        """The Keras callbacks ``model.fit`` needs for this dataset: with an integer
        sequence_length, the one that carries recurrent state between chunks."""
        if not self.chunked:
            return []
        from matkeras.data.carry import CarryStateBetweenChunks

        return [CarryStateBetweenChunks(self)]

    def _check_targets(self, targets, layout):
        if targets is None:
            return None
        if isinstance(targets, (list, tuple)) and targets and np.ndim(targets[0]) >= 1:
            per_step = [np.asarray(t) for t in targets]
            if layout == "CT":
                per_step = [t.T if t.ndim == 2 else t for t in per_step]
            for index, (target, length) in enumerate(zip(per_step, self._lengths,
                                                         strict=False)):
                if len(target) != length:
                    raise ValueError(f"Target {index} has {len(target)} time steps; its sequence "
                                     f"has {length}.")
            result = per_step
        else:
            result = np.asarray(targets)
        if len(result) != len(self._lengths):
            raise ValueError(f"Received {len(self._lengths)} sequences but {len(result)} "
                             "targets.")
        return result

    def __len__(self):
        return len(self._batches)

    def batch_indices(self, index):
        """The observations (indices into `sequences`) of batch `index`."""
        return self._batches[index][0]

    def shard(self, index, count):
        """Makes this process build only part `index` of `count` of each mini-batch (its rows
        cut into `count` blocks as ``numpy.array_split`` cuts them), reading only those
        observations, padded and cut into chunks as the whole mini-batch is: for training
        across workers, where each worker trains on its part of every global mini-batch
        (``ExecutionEnvironment="parallel"``). A part with no rows (a mini-batch smaller than
        `count`) is empty arrays of the whole mini-batch's shapes, taken from a batch this
        process made before, else from the mini-batch's first sequence, read for them.
        ``shard(0, 1)`` makes whole batches again."""
        if isinstance(index, bool) or isinstance(count, bool) or not (
                isinstance(index, numbers.Integral) and isinstance(count, numbers.Integral)
                and 0 <= index < count):
            raise ValueError(f"shard takes 0 <= index < count (integers); received index "
                             f"{index!r}, count {count!r}.")
        part = None if count == 1 else (int(index), int(count))
        if part != self._part:
            self._part = part
            with self._cache_lock:
                self._cache.clear()

    @property
    def part(self):
        """``(index, count)`` set by :meth:`shard`, or None (whole mini-batches)."""
        return self._part

    def _pad(self, arrays, value, dtype=None, steps=None):
        """The mini-batch padded: ``[(batch, mask)]``, one pair per chunk (one when unsplit);
        `steps`: the length to pad or cut to (a part of a mini-batch takes the whole one's)."""
        if not self.chunked:
            return [pad_sequences(arrays, self.sequence_length if steps is None else steps,
                                  self.padding_direction, value, dtype=dtype)]
        pairs = split_sequences(arrays, self.sequence_length, self.padding_direction, value,
                                steps=steps)
        return [(batch if dtype is None else batch.astype(dtype), mask) for batch, mask in pairs]

    def _make(self, rows):
        """Every batch of the mini-batch of observations `rows` (one per chunk); with
        :meth:`shard`, this process's part of each."""
        steps = None
        if self._part is not None:
            lengths = self._lengths[rows]
            steps = int(lengths.min() if self.sequence_length == "shortest" else lengths.max())
            whole, rows = rows, np.array_split(rows, self._part[1])[self._part[0]]
            if len(rows) == 0:  # fewer rows than parts: an empty batch of the right shapes
                return self._empty(whole, steps)
        made = self._made(rows, steps)
        if self._template is None:
            self._template = made[0]
        return made

    def _empty(self, rows, steps):
        """Every batch of a part with no rows of the mini-batch `rows`: the whole one's shapes
        with no rows (from a batch made before; else from its first row, read for it)."""
        if self._template is None:
            return [tuple(array[:0] for array in batch) for batch in self._made(rows[:1], steps)]
        span = self.sequence_length if self.chunked else steps
        chunks = -(-steps // self.sequence_length) if self.chunked else 1
        per_step = isinstance(self.targets, list)
        batch = tuple(np.zeros((0, span, *array.shape[2:]) if k == 0 or per_step else
                               (0, *array.shape[1:]), array.dtype)
                      for k, array in enumerate(self._template))
        return [batch] * chunks

    def _made(self, rows, steps):
        xs = [x for x, _ in self._pad([self._sequence(i) for i in rows], self.padding_value,
                                      "float32", steps)]
        if self.targets is None:
            return [(x,) for x in xs]
        if not isinstance(self.targets, list):  # sequence-to-label: the label goes with each
            return [(x, self.targets[rows]) for x in xs]
        made = []
        for x, (y, mask) in zip(xs, self._pad([self.targets[i] for i in rows], 0, None, steps),
                                strict=True):
            y = y[..., 0] if self.targets[0].ndim == 1 else y
            made.append((x, y, mask.astype("float32")) if self.target_padding == "weighted-out"
                        else (x, y))
        return made

    def __getitem__(self, index):
        if not 0 <= index < len(self._batches):
            raise IndexError(f"batch {index} out of range: the dataset has {len(self)} batches.")
        if index == 0:
            self._epoch_state = self.state()
        rows, chunk = self._batches[index]
        if not self.chunked:
            return self._make(rows)[0]
        self._served.append((index, chunk))
        # A mini-batch is read and padded once for all its chunks (a Datastore would otherwise
        # read every file once per chunk); the few latest are kept for the worker threads.
        key = index - chunk
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is None or cached[0] is not rows:
            cached = (rows, self._make(rows))
            with self._cache_lock:
                self._cache[key] = cached
                while len(self._cache) > 2 + 2 * max(1, self.workers):
                    self._cache.popitem(last=False)
        return cached[1][chunk]

    def state(self):
        """The order of the mini-batches now and the shuffles' generator, as JSON-able values
        (for a checkpoint: :meth:`restore`)."""
        return {"order": [int(k) for k in self.order],
                "generator": self._rng.bit_generator.state}

    def epoch_state(self):
        """:meth:`state` as it was when the current epoch's first mini-batch was served."""
        return self._epoch_state

    def restore(self, state):
        """Makes the next epoch's mini-batches those of `state` (from :meth:`epoch_state`),
        however many epoch ends the training loop signals before its first step (Keras's fit
        signals one when it starts) until :meth:`release`; later epochs shuffle on from
        there."""
        order = np.asarray(state["order"], dtype=int)
        if sorted(order.tolist()) != list(range(len(self._lengths))):
            raise ValueError("The checkpoint's mini-batch order does not fit this data set "
                             f"({len(order)} observations against {len(self._lengths)}).")
        self._rng.bit_generator.state = state["generator"]
        self._set_order(order)
        self._held = True

    def release(self):
        """The first training step after :meth:`restore` began: epoch ends shuffle again."""
        self._held = False

    def pin(self):
        """Keeps the order through the epoch ends signalled until :meth:`unpin`: for a training
        loop that runs one epoch per ``model.fit`` call (Keras's fit counts the mini-batches
        before it signals an epoch end when it starts, and signals another at the end)."""
        self._pinned = True

    def unpin(self):
        self._pinned = False

    def peek(self, index=0):
        """Mini-batch `index` (a chunk with an integer ``sequence_length``) as ``self[index]``
        gives it, without counting it as served to ``model.fit``: to build a model from."""
        rows, chunk = self._batches[index]
        made = self._make(rows)
        return made[0] if not self.chunked else made[chunk]

    def to_tf_dataset(self):
        """A ``tf.data.Dataset`` of the same mini-batches with a variable time axis.

        Keras builds the input signature of a ``PyDataset`` from its first two mini-batches, so
        when those two have the same length every later mini-batch must too. Pass this to
        ``model.fit`` when mini-batches differ in length beyond the first two (the shuffle
        still follows ``shuffle``: the order changes after each full pass).
        """
        import tensorflow as tf

        first = self.peek(0)
        per_step = isinstance(self.targets, list)

        def spec(position, part):
            shape = [None, *np.shape(part)[1:]]
            if (position == 0 or per_step) and not self.chunked:  # time varies between batches
                shape[1] = None
            return tf.TensorSpec(shape, tf.as_dtype(np.asarray(part).dtype))

        signature = tuple(spec(k, part) for k, part in enumerate(first))

        passes = []

        def batches():
            # Each pass after the first starts a new epoch (reshuffled as `shuffle` says). Doing
            # it here, not after the last batch, does not depend on how far tf.data reads ahead.
            if passes:
                self.on_epoch_end()
            passes.append(True)
            if self.workers <= 1:
                for index in range(len(self)):
                    yield tuple(self[index])
                return
            # `workers` threads make the next mini-batches while this one trains; at most
            # `max_queue_size` wait, which bounds the memory they hold.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.workers) as pool:
                pending = collections.deque()
                for index in range(len(self)):
                    pending.append(pool.submit(self.__getitem__, index))
                    if len(pending) >= max(1, self.max_queue_size):
                        yield tuple(pending.popleft().result())
                while pending:
                    yield tuple(pending.popleft().result())

        dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
        # A known length lets Keras end each epoch without an "input ran out of data" warning.
        return dataset.apply(tf.data.experimental.assert_cardinality(len(self)))

    def on_epoch_end(self):
        self._served.clear()
        if self._held or self._pinned:  # restored from a checkpoint, or pinned: it stays
            return
        if self.shuffle == "every-epoch":
            self._set_order(self._arranged(self._rng.permutation(self.order)))
        else:
            self._schedules.append(self._schedules[-1])
