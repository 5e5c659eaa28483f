"""MATLAB's categorical helpers of the trainnet era, in numpy: class names, ``onehotencode``,
``onehotdecode``, ``scores2label``.

Class order is MATLAB's ``categories``: for a label array, its sorted unique values (numbers by
value, text by character code, as MATLAB's ``categorical`` sorts them: ``"10"`` before ``"2"``);
for a pandas ``Categorical`` (or anything with ``categories`` and ``codes``, pandas is not a
dependency), its own category order. :func:`class_names` and :func:`encode_labels` keep the
labels' type (integer labels give integer class names); :func:`encode_classes`, the one encoder
both training workflows and ``testnet`` use, gives the names as text, as MATLAB's categories
always are (integer labels 1, 2, 10 are the classes "1", "2", "10", in that order).
"""

import numpy as np

__all__ = ["class_names", "encode_classes", "encode_labels", "is_categorical", "is_label_array",
           "onehotdecode", "onehotencode", "scores2label"]


def is_categorical(labels):
    """Whether `labels` is a pandas Categorical (or anything with ``categories`` and
    ``codes``)."""
    return hasattr(labels, "categories") and hasattr(labels, "codes")


def is_label_array(labels):
    """Whether `labels` are class labels (text, integers, booleans, a pandas Categorical)
    rather than numeric responses (floats, complex)."""
    if is_categorical(labels) or (hasattr(labels, "cat") and hasattr(labels, "array")):
        return True
    return np.asarray(labels).dtype.kind not in "fc"


def _as_array(labels):
    """Labels as a numpy array (a pandas Series of categories is read through .array)."""
    if hasattr(labels, "cat") and hasattr(labels, "array"):  # pandas Series of categories
        labels = labels.array
    if is_categorical(labels):
        return labels
    array = np.asarray(labels)
    if array.dtype == object:
        array = np.asarray([str(v) for v in array.ravel()]).reshape(array.shape)
    return array


def class_names(labels):
    """MATLAB's ``categories(labels)``: the class names in MATLAB's order (module notes)."""
    labels = _as_array(labels)
    if is_categorical(labels):
        return list(np.asarray(labels.categories))
    if labels.dtype.kind == "f":
        labels = labels[~np.isnan(labels)]
    return list(np.unique(labels))


def encode_labels(labels, classes=None, what="labels"):
    """Labels as 0-based class indices into `classes` (default :func:`class_names`).

    Returns ``(indices, classes)``. A label that is not a class (or a missing pandas
    category) raises an error naming it.
    """
    labels = _as_array(labels)
    if is_categorical(labels):
        codes = np.asarray(labels.codes)
        own = list(np.asarray(labels.categories))
        if (codes < 0).any():
            raise ValueError(f"{what} has {int((codes < 0).sum())} missing (undefined) values; "
                             "remove those observations or give them a category.")
        if classes is None:
            return codes.astype(np.int64), own
        labels = np.asarray(own)[codes]
    names = class_names(labels) if classes is None else list(classes)
    lookup = {_key(name): index for index, name in enumerate(names)}
    flat = labels.ravel()
    unknown = sorted({str(v) for v in flat if _key(v) not in lookup})
    if unknown:
        raise ValueError(f"{what} contains {unknown[:10]}, which are not among the classes "
                         f"{[str(n) for n in names][:20]}. Pass the class names the network "
                         "was trained with (MATLAB classNames = categories(TTrain)).")
    indices = np.fromiter((lookup[_key(v)] for v in flat), dtype=np.int64, count=flat.size)
    return indices.reshape(labels.shape), names


def encode_classes(labels, classes=None, what="labels", per_sequence=None):
    """The one label encoder of ``trainNetwork``, ``trainnet`` and ``testnet``: class indices
    and the class names as text (MATLAB's ``categories``).

    Args:
        labels: one label array (a pandas Categorical keeps its category order), or, per
            sequence, a list of per-step label arrays.
        classes: the class names to encode against (compared as text: 3 and "3" are one
            class), or None: :func:`class_names` of all the labels.
        what: what the labels are, for error messages.
        per_sequence: whether `labels` is a list of per-step label arrays; None: a non-empty
            list or tuple whose first item has a time axis.

    Returns:
        ``(indices, names)``: int64 indices shaped as the labels (one array per sequence),
        names a list of str.
    """
    if per_sequence is None:
        per_sequence = (isinstance(labels, (list, tuple)) and len(labels) > 0
                        and np.ndim(labels[0]) >= 1)
    items = [_label_text(t, what) for t in (labels if per_sequence else [labels])]
    if classes is not None:
        names = [str(name) for name in classes]
    elif per_sequence:
        names = [str(name) for name in class_names(
            np.concatenate([np.ravel(_as_array(t)) for t in labels]))]
    else:
        array = _as_array(labels)
        names = [str(name) for name in (
            encode_labels(array, None, what)[1] if is_categorical(array) else class_names(array))]
    indices = [encode_labels(t, names, what)[0] for t in items]
    return (indices if per_sequence else indices[0]), names


def _label_text(labels, what):
    """Labels as a text array (a pandas Categorical's values, its missing values refused)."""
    array = _as_array(labels)
    if is_categorical(array):
        codes, own = encode_labels(array, None, what)
        return np.asarray([str(name) for name in own])[codes]
    return np.asarray([str(v) for v in array.ravel()]).reshape(array.shape)


def _key(value):
    """A hashable key under which 3, 3.0, np.int64(3) and '3' (for text classes) agree."""
    if isinstance(value, (str, np.str_)):
        return ("text", str(value))
    if isinstance(value, (bool, np.bool_)):
        return ("number", float(value))
    try:
        return ("number", float(value))
    except (TypeError, ValueError):
        return ("text", str(value))


def _dimension(featureDim, ndim, function):
    if isinstance(featureDim, bool) or not isinstance(featureDim, (int, np.integer)) or \
            featureDim < 1:
        raise ValueError(f"{function}: featureDim is a MATLAB dimension, 1-based; received "
                         f"{featureDim!r}.")
    return int(featureDim) - 1


def onehotencode(A, featureDim, *args, ClassNames=None, **kwargs):
    """MATLAB's ``B = onehotencode(A, featureDim)``: one-hot vectors along dimension
    `featureDim` (1-based, as in MATLAB).

    `A` is a label array or a pandas Categorical. A 1-D array of N labels is MATLAB's N-by-1
    column, so ``onehotencode(A, 2)`` gives ``(N, K)``; `featureDim` must be a singleton
    dimension of `A` or one past its last. ``ClassNames`` (MATLAB's name-value argument) fixes
    the classes and their order; by default :func:`class_names`. MATLAB's ``typename``
    argument is accepted as ``"double"``/``"single"`` (the result's dtype).

    Example:
        >>> onehotencode(np.array(["b", "a", "b"]), 2)
        array([[0., 1.],
               [1., 0.],
               [0., 1.]])
    """
    dtype = np.float64
    extra = list(args)
    if extra and isinstance(extra[0], str) and extra[0] in ("double", "single"):
        dtype = np.float32 if extra.pop(0) == "single" else np.float64
    if len(extra) % 2:
        raise ValueError(f"onehotencode: name-value arguments come in pairs; received {extra}.")
    for name, value in [*zip(extra[::2], extra[1::2], strict=True), *kwargs.items()]:
        if str(name).lower() != "classnames":
            raise ValueError(f"onehotencode: unknown name-value argument {name!r}; valid: "
                             "ClassNames.")
        ClassNames = value
    indices, names = encode_labels(A, ClassNames, "onehotencode: A")
    shape = list(indices.shape) if indices.ndim > 1 else [indices.size, 1]
    axis = _dimension(featureDim, len(shape), "onehotencode")
    if axis < len(shape) and shape[axis] != 1:
        raise ValueError(f"onehotencode: dimension {featureDim} of A has size {shape[axis]}; "
                         "featureDim must be a singleton dimension of A (MATLAB), e.g. 2 for "
                         "an N-by-1 column of labels.")
    if axis > len(shape):
        raise ValueError(f"onehotencode: featureDim {featureDim} is beyond A's "
                         f"{len(shape)} dimensions (+1).")
    if axis == len(shape):
        shape.append(1)
    encoded = np.moveaxis(np.eye(len(names), dtype=dtype)[indices.reshape(
        [s for k, s in enumerate(shape) if k != axis])], -1, axis)
    return encoded


def onehotdecode(B, classes, featureDim, *args, **kwargs):
    """MATLAB's ``A = onehotdecode(B, classes, featureDim)``: the class of the largest value
    along `featureDim` (1-based); ties go to the first class. The class dimension is removed
    (MATLAB keeps it as a singleton). ``typename`` is not needed: labels keep the type of
    `classes`."""
    B = np.asarray(B)
    axis = _dimension(featureDim, B.ndim, "onehotdecode")
    if axis >= B.ndim:
        raise ValueError(f"onehotdecode: featureDim {featureDim} is beyond B's {B.ndim} "
                         "dimensions.")
    names = np.asarray(list(classes))
    if names.size != B.shape[axis]:
        raise ValueError(f"onehotdecode: B has {B.shape[axis]} values along dimension "
                         f"{featureDim} but {names.size} classes were given.")
    return names[np.argmax(B, axis=axis)]


def scores2label(scores, classNames, *args, **kwargs):
    """MATLAB's ``[Y, scores] = scores2label(scores, classNames)``: the labels of the highest
    scores and those scores, as a pair ``(labels, scores)``.

    `scores` is ``(N, K)`` (or ``(K,)`` for one observation), an ``(N, T, K)`` array, or a list
    of ``(T_n, K)`` arrays (sequence-to-sequence, one per observation); the classes are along
    the last axis (MATLAB's ``"auto"`` feature dimension in Keras's layout). Labels take the
    type of `classNames`. A list of scores gives lists of labels and scores.

    Example:
        >>> labels, best = scores2label(np.array([[0.2, 0.8], [0.9, 0.1]]), ["no", "yes"])
        >>> labels.tolist(), best.tolist()
        (['yes', 'no'], [0.8, 0.9])
    """
    if args or kwargs:
        raise ValueError("scores2label: the classes must be along the last axis (Keras layout); "
                         f"options {list(kwargs) or list(args)} are not supported.")
    names = np.asarray(list(classNames))
    if isinstance(scores, (list, tuple)) and scores and all(
            isinstance(s, np.ndarray) and s.ndim == 2 for s in scores):  # one per sequence
        pairs = [scores2label(s, classNames) for s in scores]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 0 or scores.shape[-1] != names.size:
        raise ValueError(f"scores2label: the scores have {scores.shape[-1] if scores.ndim else 0}"
                         f" values per observation (last axis of shape {scores.shape}) but "
                         f"{names.size} class names were given; classNames must list one name "
                         "per score column, in the network's output order.")
    index = np.argmax(scores, axis=-1)
    return names[index], np.take_along_axis(scores, index[..., None], axis=-1)[..., 0]
