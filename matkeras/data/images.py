"""Images for MATLAB-style prediction: Keras's ``(N, h, w, c)`` or MATLAB's ``h x w x c x N``.

MATLAB's ``predict``/``classify``/``minibatchpredict`` take images as an h x w x c x N array
("SSCB"); Keras takes ``(N, h, w, c)`` ("BSSC"). :func:`as_images` reads either, one image or a
list of images, and checks every image against the network's input size, as MATLAB's
imageInputLayer does (images are never padded or resized).
"""

import numpy as np

#: Image layouts: "auto" (from the shapes), "BSSC" (Keras), "SSCB" (MATLAB).
IMAGE_LAYOUTS = ("auto", "BSSC", "SSCB")


def image_input_size(model):
    """The ``(h, w, c)`` of an image network's :class:`~matkeras.layers.ImageInput`, or None
    (a sequence or feature network)."""
    from matkeras.layers import ImageInput

    for layer in getattr(model, "layers", ()):
        if isinstance(layer, ImageInput):
            return layer.input_size
    return None


def as_images(X, input_size, layout="auto"):
    """``(list of (h, w, c) arrays, whether X was one image)``.

    Args:
        X: one image ``(h, w, c)`` (``(h, w)`` for one channel), a list of them, or a batch:
            ``(N, h, w, c)`` (``layout="BSSC"``) or ``(h, w, c, N)`` (``layout="SSCB"``).
        input_size: the network's ``(h, w, c)``.
        layout: ``"auto"`` (default: the layout the shape fits; an error where both fit),
            ``"BSSC"`` or ``"SSCB"``.
    """
    size = tuple(int(s) for s in input_size)
    if layout not in IMAGE_LAYOUTS:
        raise ValueError(f"layout for images must be one of {IMAGE_LAYOUTS} (Keras's (N, h, w, "
                         f"c) is 'BSSC', MATLAB's h x w x c x N is 'SSCB'); received {layout!r}.")
    if isinstance(X, (list, tuple)):
        images = [_one(np.asarray(x), size, index) for index, x in enumerate(X)]
        return images, False
    X = np.asarray(X)
    if X.ndim == len(size) or (X.ndim == 2 and size[-1] == 1):
        return [_one(X, size, 0)], True
    if X.ndim != 4:
        raise ValueError(f"Images of shape {X.shape} do not fit the network's input size "
                         f"(h, w, c) = {size}: " + _HOW)
    fits = {"BSSC": X.shape[1:] == size, "SSCB": X.shape[:3] == size}
    if layout == "auto":
        if fits["BSSC"] and fits["SSCB"]:
            raise ValueError(f"Images of shape {X.shape} fit the input size {size} both as "
                             "(N, h, w, c) and as MATLAB's h x w x c x N: pass layout='BSSC' or "
                             "layout='SSCB'.")
        layout = "SSCB" if fits["SSCB"] else "BSSC"
    if not fits[layout]:
        raise ValueError(f"Images of shape {X.shape} ({layout}) do not fit the network's input "
                         f"size (h, w, c) = {size}: " + _HOW)
    batch = X if layout == "BSSC" else np.moveaxis(X, 3, 0)
    return list(batch), False


_HOW = ("give (N, h, w, c) arrays (Keras), MATLAB's h x w x c x N with layout='SSCB', one "
        "(h, w, c) image, or a list of them; MATLAB's imageInputLayer does not resize images "
        "(resize them first, e.g. with keras.layers.Resizing).")


def _one(image, size, index):
    if image.ndim == 2 and size[-1] == 1:
        image = image[..., None]
    if image.shape != size:
        raise ValueError(f"Image {index} has shape {image.shape}, but the network takes images "
                         f"of (h, w, c) = {size} (its imageInputLayer's InputSize): " + _HOW)
    return image
