"""Decodes a MATLAB-saved network in a separate process (run as a script, numpy + mat-io only).

mat-io's compiled decoder can crash the process on a corrupted MAT-file, so matkeras never
decodes one in the caller's process. This script reads the file, flattens the network's layer
structs into plain arrays and strings, and writes them to an ``.npz`` (no pickles) that the
caller reads with ``allow_pickle=False``. Exit codes: 0 written, 2 a readable problem (message on
stderr), anything else: the decoder failed.

    python _mat_child.py IN.mat OUT.npz [VARIABLE]
"""

import sys

import numpy as np

NETWORK_CLASSES = ("SeriesNetwork", "DAGNetwork", "dlnetwork")


def fail(message):
    sys.stderr.write(message)
    sys.exit(2)


def flatten(prefix, value, out):
    """Plain arrays and strings under dotted keys: learnables and states give their Value (and
    L2Factor), nested structs their fields, categoricals their category names."""
    names = getattr(getattr(value, "dtype", None), "names", None)
    if names:
        if value.size == 0:
            out[prefix] = np.zeros((0, 0))
            return
        item = value.flat[0]
        if "Value" in names:
            flatten(prefix, item["Value"], out)
            if "L2Factor" in names:
                flatten(prefix + ".L2Factor", item["L2Factor"], out)
            return
        for name in names:
            flatten(f"{prefix}.{name}", item[name], out)
        return
    if hasattr(value, "categories") and hasattr(value, "codes"):  # pandas Categorical
        out[prefix] = np.array([str(c) for c in np.ravel(np.asarray(value))], dtype=str)
        return
    array = np.asarray(value)
    if array.dtype == object:
        if array.size == 1:
            flatten(prefix, array.flat[0], out)
        elif all(isinstance(np.asarray(v).flat[0] if np.size(v) else "", str)
                 for v in array.flat):
            out[prefix] = np.array([str(np.ravel(v)[0]) if np.size(v) else "" for v in array.flat],
                                   dtype=str)
        return
    if array.dtype.kind in "US":
        out[prefix] = np.array([str(v) for v in np.ravel(array)], dtype=str)
    elif array.dtype.kind in "biuf":
        out[prefix] = array.astype(np.float64)


def main(source, target, variable=None):
    import matio

    contents = {k: v for k, v in matio.load_from_mat(source).items() if not k.startswith("__")}

    def is_network(value):
        return getattr(value, "classname", None) in NETWORK_CLASSES

    if variable is not None:
        if variable not in contents:
            fail(f"'{source}' has no variable {variable!r}; its variables are "
                 f"{sorted(contents)}.")
        if not is_network(contents[variable]):
            kind = getattr(contents[variable], "classname", type(contents[variable]).__name__)
            fail(f"Variable {variable!r} in '{source}' is a {kind}, not a saved network "
                 f"({', '.join(NETWORK_CLASSES)}).")
    else:
        networks = [k for k, v in contents.items() if is_network(v)]
        if not networks:
            fail(f"'{source}' holds no saved network; its variables are {sorted(contents)}. Save "
                 "one with `save net.mat net`, or pass weights in the plain layout "
                 "(load_weights_mat).")
        if len(networks) > 1:
            fail(f"'{source}' holds several networks {sorted(networks)}; choose one with "
                 "variable=.")
        variable = networks[0]
    network = contents[variable]
    if network.classname != "SeriesNetwork":
        fail(f"Variable {variable!r} in '{source}' is a {network.classname}; only SeriesNetwork "
             "objects are read. Write its weights with converters/matlab/matkeras_export.m and "
             "load them into the same network built with matkeras layers (load_weights_mat).")
    try:
        layers = np.ravel(network.properties["any"][0, 0]["Layers"])
        structs = [layer.properties["any"][0, 0] for layer in layers]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        fail(f"Variable {variable!r} in '{source}' is a {network.classname} whose saved "
             f"structure is not the expected one ({error}).")
    arrays = {"network_class": np.array([network.classname]),
              "layer_count": np.array([len(structs)])}
    for index, struct in enumerate(structs):
        names = getattr(getattr(struct, "dtype", None), "names", None)
        if not names:
            fail(f"Layer {index + 1} of '{source}' is not a saved struct.")
        fields = {}
        for name in names:
            flatten(name, struct[name], fields)
        arrays[f"L{index:04d}|__fields__"] = np.array(sorted(fields), dtype=str)
        for key, value in fields.items():
            arrays[f"L{index:04d}|{key}"] = value
    np.savez(target, **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:4])
