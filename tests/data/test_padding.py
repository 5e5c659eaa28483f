"""matkeras.data sorting and padding (pure numpy)."""

import numpy as np
import pytest

from matkeras.data import pad_sequences, sort_by_length, split_sequences


def _sequences():
    return [np.full((3, 2), 1.0), np.full((5, 2), 2.0), np.full((1, 2), 3.0), np.full((3, 2), 4.0)]


class TestSortByLength:
    def test_ascending_is_stable(self):
        ordered, order = sort_by_length(_sequences())
        assert order.tolist() == [2, 0, 3, 1]
        assert [s[0, 0] for s in ordered] == [3.0, 1.0, 4.0, 2.0]

    def test_descending_is_stable(self):
        _, order = sort_by_length(_sequences(), descending=True)
        assert order.tolist() == [1, 0, 3, 2]

    def test_matlab_ct_layout_sorts_by_columns(self):
        _, order = sort_by_length([np.zeros((2, 5)), np.zeros((2, 3))], layout="CT")
        assert order.tolist() == [1, 0]


class TestPadSequences:
    def test_longest_right_padding(self):
        batch, mask = pad_sequences(_sequences(), value=-1.0)
        assert batch.shape == (4, 5, 2)
        np.testing.assert_array_equal(batch[2, :, 0], [3, -1, -1, -1, -1])
        np.testing.assert_array_equal(mask[0], [1, 1, 1, 0, 0])

    def test_left_padding_puts_data_last(self):
        batch, mask = pad_sequences(_sequences(), direction="left")
        np.testing.assert_array_equal(batch[2, :, 0], [0, 0, 0, 0, 3])
        np.testing.assert_array_equal(mask[0], [0, 0, 1, 1, 1])

    def test_shortest_truncates(self):
        sequences = [np.arange(4.0)[:, None], np.arange(2.0)[:, None]]
        right, _ = pad_sequences(sequences, length="shortest")
        left, _ = pad_sequences(sequences, length="shortest", direction="left")
        np.testing.assert_array_equal(right[0, :, 0], [0, 1])
        np.testing.assert_array_equal(left[0, :, 0], [2, 3])

    def test_integer_length(self):
        batch, mask = pad_sequences(_sequences(), length=4)
        assert batch.shape == (4, 4, 2) and mask.sum() == 3 + 4 + 1 + 3

    def test_image_sequences(self):
        batch, _ = pad_sequences([np.ones((2, 4, 4, 3)), np.ones((3, 4, 4, 3))])
        assert batch.shape == (2, 3, 4, 4, 3)

    def test_matlab_layout_is_transposed(self):
        batch, _ = pad_sequences([np.arange(6.0).reshape(2, 3)], layout="CT")
        np.testing.assert_array_equal(batch[0], np.arange(6.0).reshape(2, 3).T)

    @pytest.mark.parametrize(
        "kwargs,message",
        [({"direction": "both"}, "SequencePaddingDirection"),
         ({"length": "long"}, "SequenceLength"),
         ({"length": 0}, "SequenceLength"),
         ({"layout": "NTC"}, "layout")],
    )
    def test_bad_options_are_named(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            pad_sequences(_sequences(), **kwargs)

    def test_mixed_feature_sizes_suggest_layout(self):
        with pytest.raises(ValueError, match='layout="CT"'):
            pad_sequences([np.zeros((3, 2)), np.zeros((2, 3))])

    def test_empty_list_is_an_error(self):
        with pytest.raises(ValueError, match="no sequences"):
            pad_sequences([])


class TestSplitSequences:
    """MATLAB's integer SequenceLength: pad to the longest of the mini-batch, cut into
    ceil(T/L) chunks of exactly L steps, the last chunk padded (hand-checked cases)."""

    @pytest.mark.parametrize(
        "lengths,chunk,direction,expected_masks",
        [
            ((5, 2), 2, "right", [[[1, 1], [1, 1]], [[1, 1], [0, 0]], [[1, 0], [0, 0]]]),
            ((4, 4), 2, "right", [[[1, 1], [1, 1]], [[1, 1], [1, 1]]]),
            ((5, 2), 2, "left", [[[0, 1], [0, 0]], [[1, 1], [0, 0]], [[1, 1], [1, 1]]]),
            ((3,), 5, "right", [[[1, 1, 1, 0, 0]]]),
        ],
        ids=["right-uneven", "exact", "left-uneven", "chunk-longer-than-data"],
    )
    def test_chunk_counts_and_padding(self, lengths, chunk, direction, expected_masks):
        sequences = [np.arange(1.0, n + 1)[:, None] for n in lengths]
        chunks = split_sequences(sequences, chunk, direction=direction, value=-1.0)
        assert len(chunks) == len(expected_masks)
        for (batch, mask), expected in zip(chunks, expected_masks, strict=True):
            np.testing.assert_array_equal(mask.astype(int), expected)
            assert batch.shape == (len(lengths), chunk, 1)
            np.testing.assert_array_equal(batch[..., 0][~mask], -1.0)

    def test_chunks_put_back_together_give_the_padded_batch(self):
        sequences = [np.arange(7.0)[:, None], np.arange(3.0)[:, None]]
        joined = np.concatenate([b for b, _ in split_sequences(sequences, 3)], axis=1)
        padded, _ = pad_sequences(sequences)
        np.testing.assert_array_equal(joined[:, :7], padded)

    def test_length_must_be_a_positive_integer(self):
        with pytest.raises(ValueError, match="SequenceLength"):
            split_sequences([np.zeros((3, 1))], 0)
