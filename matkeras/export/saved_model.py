"""SavedModel export with free batch and time axes, and an optional streaming signature."""

import os
import shutil

from matkeras.export._trace import check_path, require_tensorflow, serving_module

__all__ = ["export_saved_model"]


def export_saved_model(model, path, streaming=False, overwrite=False):
    """Writes a SavedModel of `model` with free batch and time axes.

    Signatures: ``serving_default`` (``x`` -> ``y``) and, with ``streaming=True``, also
    ``streaming`` (``x`` and one input per recurrent state, named ``<layer>_hidden_state`` /
    ``<layer>_cell_state``, -> ``y`` and the states after the last step). Returns the path.
    """
    require_tensorflow("export_saved_model")
    import tensorflow as tf

    path = check_path(path, overwrite)
    full = serving_module(model, None, None, streaming=False)
    signatures = {"serving_default": full.serve.get_concrete_function()}
    if streaming:
        stepper = serving_module(model, None, None, streaming=True)
        full.stream = stepper.serve
        signatures["streaming"] = stepper.serve.get_concrete_function()
    if os.path.exists(path):
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    tf.saved_model.save(full, path, signatures=signatures)
    return path


