"""SequenceDataset: MATLAB's mini-batch options feeding model.fit."""

import keras
import numpy as np
import pytest

from matkeras import layers as L
from matkeras.data import SequenceDataset


def _data(rng, count=10):
    lengths = rng.integers(2, 9, count)
    return [rng.normal(size=(n, 3)) for n in lengths], rng.integers(0, 2, count)


def test_batches_follow_the_order_and_pad_to_the_longest(rng):
    sequences, labels = _data(rng)
    data = SequenceDataset(sequences, labels, mini_batch_size=4, shuffle="never")
    assert len(data) == 3  # the last, smaller mini-batch is kept
    x, y = data[1]
    assert x.shape == (4, max(len(s) for s in sequences[4:8]), 3)
    np.testing.assert_array_equal(y, labels[4:8])
    np.testing.assert_allclose(x[0, :len(sequences[4])], sequences[4], rtol=1e-6)


def test_sorting_and_left_padding(rng):
    sequences, labels = _data(rng)
    data = SequenceDataset(sequences, labels, mini_batch_size=5, shuffle="never",
                           sort_by_length=True, padding_direction="left")
    lengths = [len(sequences[i]) for i in data.order]
    assert lengths == sorted(lengths)
    x, _ = data[0]
    first = sequences[data.order[0]]
    np.testing.assert_allclose(x[0, -len(first):], first, rtol=1e-6)


def test_shuffle_modes(rng):
    sequences, labels = _data(rng, 30)
    once = SequenceDataset(sequences, labels, shuffle="once", seed=1)
    before = once.order.copy()
    once.on_epoch_end()
    np.testing.assert_array_equal(once.order, before)
    assert not np.array_equal(before, np.arange(30))
    every = SequenceDataset(sequences, labels, shuffle="every-epoch", seed=1)
    before = every.order.copy()
    every.on_epoch_end()
    assert not np.array_equal(every.order, before)
    assert sorted(every.order) == list(range(30))


def test_sequence_targets_are_padded_and_weighted_out(rng):
    sequences, _ = _data(rng, 4)
    targets = [rng.integers(0, 3, len(s)) for s in sequences]
    x, y, weights = SequenceDataset(sequences, targets, mini_batch_size=4, shuffle="never")[0]
    assert y.shape == x.shape[:2] and weights.shape == x.shape[:2]
    np.testing.assert_array_equal(weights.sum(axis=1), [len(s) for s in sequences])
    counted = SequenceDataset(sequences, targets, mini_batch_size=4, shuffle="never",
                              target_padding="counted")[0]
    assert len(counted) == 2


def test_trains_a_model_with_fit(rng):
    from matkeras.layers import LSTM

    sequences, labels = _data(rng, 16)
    inputs = keras.Input((None, 3))
    outputs = keras.layers.Dense(2, activation="softmax")(LSTM(4, output_mode="last")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    data = SequenceDataset(sequences, labels, mini_batch_size=4, shuffle="every-epoch", seed=3)
    history = model.fit(data.to_tf_dataset(), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    sorted_data = SequenceDataset(sequences, labels, mini_batch_size=4, shuffle="never",
                                  sort_by_length=True)
    lengths = [max(len(sequences[i]) for i in sorted_data.batch_indices(k)) for k in range(4)]
    assert lengths[0] != lengths[1]  # Keras reads the signature off the first two batches
    model.fit(sorted_data, epochs=1, verbose=0)
    predicted = model.predict(SequenceDataset(sequences, mini_batch_size=4, shuffle="never")
                              .to_tf_dataset(), verbose=0)
    assert predicted.shape == (16, 2)


@pytest.mark.parametrize("kwargs,message", [
    ({"mini_batch_size": 0}, "MiniBatchSize"),
    ({"sequence_length": 0}, "positive integer"),
    ({"sequence_length": "medium"}, "'longest', 'shortest' or a positive integer"),
    ({"shuffle": "always"}, "shuffle must be one of"),
])
def test_bad_options(rng, kwargs, message):
    sequences, labels = _data(rng)
    with pytest.raises(ValueError, match=message):
        SequenceDataset(sequences, labels, **kwargs)


def test_target_count_must_match(rng):
    sequences, labels = _data(rng)
    with pytest.raises(ValueError, match="10 sequences but 9 targets"):
        SequenceDataset(sequences, labels[:9])


def test_integer_length_makes_one_batch_per_chunk_in_order(rng):
    lengths = [7, 3, 12, 5, 1]
    sequences = [rng.normal(size=(t, 2)) for t in lengths]
    data = SequenceDataset(sequences, np.arange(5), mini_batch_size=2, sequence_length=4,
                           shuffle="never")
    # mini-batches [7, 3] -> 2 chunks, [12, 5] -> 3 chunks, [1] -> 1 chunk
    assert len(data) == 6
    assert data.chunk_starts() == [True, False, True, False, False, True]
    x0, y0 = data[0]
    x1, y1 = data[1]
    assert x0.shape == x1.shape == (2, 4, 2)
    np.testing.assert_array_equal(y0, [0, 1])  # the label goes with every chunk
    np.testing.assert_array_equal(y1, [0, 1])
    np.testing.assert_allclose(x1[0, :3], sequences[0][4:7], rtol=1e-6)
    np.testing.assert_array_equal(x1[0, 3], 0.0)  # the last chunk is padded (right)
    np.testing.assert_array_equal(x1[1], 0.0)      # a chunk past a short sequence's end
    with pytest.raises(IndexError):
        data[6]


def test_integer_length_cuts_per_step_targets_alike(rng):
    sequences = [rng.normal(size=(t, 1)) for t in (6, 2)]
    targets = [np.arange(6), np.arange(2) + 10]
    data = SequenceDataset(sequences, targets, mini_batch_size=2, sequence_length=4,
                           shuffle="never", padding_direction="left")
    (_, y0, w0), (_, y1, w1) = data[0], data[1]
    # left padding to 8 steps: [pad pad 0 1 | 2 3 4 5] and [pad*6 10 11]
    np.testing.assert_array_equal(y0, [[0, 0, 0, 1], [0, 0, 0, 0]])
    np.testing.assert_array_equal(y1, [[2, 3, 4, 5], [0, 0, 10, 11]])
    np.testing.assert_array_equal(w0, [[0, 0, 1, 1], [0, 0, 0, 0]])
    np.testing.assert_array_equal(w1, [[1, 1, 1, 1], [0, 0, 1, 1]])


def test_bucketing_groups_similar_lengths_and_shuffles_the_buckets(rng):
    lengths = rng.permutation(np.arange(1, 25))
    sequences = [np.zeros((t, 1)) for t in lengths]
    data = SequenceDataset(sequences, np.zeros(24), mini_batch_size=4, bucket_by_length=True,
                           shuffle="every-epoch", seed=3)
    widths = [data[k][0].shape[1] for k in range(len(data))]
    padding = sum(4 * w for w in widths) - lengths.sum()
    assert padding == 6 * 6  # each bucket of 4 consecutive lengths pads 3+2+1+0 steps
    assert widths != sorted(widths)  # the buckets come shuffled
    first = [tuple(data.batch_indices(k)) for k in range(len(data))]
    data.on_epoch_end()
    assert [tuple(data.batch_indices(k)) for k in range(len(data))] != first


def test_works_with_worker_threads_and_processes(rng):
    sequences, labels = _data(rng)
    model = keras.Sequential([keras.Input((None, 3)), L.LSTM(4, output_mode="last"),
                              L.FullyConnected(2), L.Softmax()])
    model.compile("adam", "sparse_categorical_crossentropy")
    for options in ({"workers": 2}, {"workers": 2, "use_multiprocessing": True}):
        data = SequenceDataset(sequences, labels, mini_batch_size=5, sequence_length=6,
                               **options)
        model.fit(data, epochs=1, verbose=0)  # fixed-length chunks: the PyDataset itself
        assert model.predict(SequenceDataset(sequences, mini_batch_size=5, sequence_length=6,
                                             shuffle="never", **options),
                             verbose=0).shape[0] >= len(sequences)


@pytest.mark.parametrize("options", [
    dict(), dict(sequence_length="shortest"), dict(padding_direction="left"),
    dict(sequence_length=3), dict(sequence_length=3, padding_direction="left")],
    ids=["longest", "shortest", "left", "chunks", "chunks-left"])
@pytest.mark.parametrize("per_step", [False, True], ids=["labels", "per-step"])
def test_parts_of_a_mini_batch_put_together_are_the_whole_one(rng, options, per_step):
    """shard(k, n): each part is padded and cut into chunks as the whole mini-batch is, and
    reads only its own sequences; 7 rows in 3 parts: 3, 2, 2 (numpy.array_split); a mini-batch
    of one row leaves two parts empty, with the whole one's shapes."""
    sequences, labels = _data(rng, 8)
    targets = [rng.normal(size=(len(s), 2)) for s in sequences] if per_step else labels
    whole = SequenceDataset(sequences, targets, mini_batch_size=7, shuffle="never", **options)
    parts = []
    for index in range(3):
        part = SequenceDataset(sequences, targets, mini_batch_size=7, shuffle="never",
                               **options)
        part.shard(index, 3)
        assert part.part == (index, 3)
        read = []
        original = part._sequence
        part._sequence = lambda i, original=original, read=read: (read.append(i), original(i))[1]
        parts.append([part[b] for b in range(len(part))])
        rows = [np.array_split(whole.batch_indices(b), 3)[index] for b in range(len(whole))]
        expected_reads = [int(i) for r in rows for i in (r if len(r) else [])]
        assert sorted(set(read)) == sorted(set(expected_reads)), (read, expected_reads)
    assert len(parts[0]) == len(whole)
    for b in range(len(whole)):
        for k, array in enumerate(whole[b]):
            joined = np.concatenate([parts[index][b][k] for index in range(3)])
            np.testing.assert_array_equal(joined, array)
    last = [parts[index][len(whole) - 1][0] for index in range(3)]
    assert [len(x) for x in last] == [1, 0, 0] and last[1].shape[1:] == last[0].shape[1:]
    with pytest.raises(ValueError, match="shard takes 0 <= index < count"):
        whole.shard(3, 3)
