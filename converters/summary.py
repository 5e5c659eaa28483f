"""A saved network's summary, like MATLAB's network display (no TensorFlow needed)."""

import numpy as np

from matkeras.converters.matlab_network import read_network


def inspect_mat(path, variable=None):
    """The layers and connections of a saved network, like MATLAB's network summary.

    Returns a :class:`NetworkSummary`: a list of dicts (``position``, ``name``, ``class``,
    ``class_source`` (``"subsystem"``: the class recorded in the file; ``"fields"``: inferred
    from the saved fields; ``"export"``: written by ``matkeras_export.m``), ``options``,
    ``learnables`` {MATLAB name: shape}) whose ``str()`` is a table, with ``connections``
    (``None`` for a chain), ``network_class`` and ``variable``.
    """
    saved = read_network(path, variable)
    rows = []
    for record in saved.layers:
        learnables, options = {}, {}
        for name, entry in record.fields.items():
            if name.endswith((".L2Factor", ".LearnRateFactor")) or name in ("Version", "Name"):
                continue
            if f"{name}.L2Factor" in record.fields or name in ("HiddenState", "CellState"):
                learnables[name] = tuple(entry.shape)
            else:
                options[name] = _describe(entry)
        rows.append({"position": record.position, "name": record.name,
                     "class": record.matlab_class, "class_source": record.class_source,
                     "options": options, "learnables": learnables})
    return NetworkSummary(saved, rows)


def _describe(entry):
    array = np.asarray(entry)
    if array.dtype.kind in "US":
        return " ".join(str(v) for v in np.ravel(array)[:8]) if array.size else ""
    if array.dtype.kind in "biuf" and array.size <= 4:
        flat = [int(v) if float(v).is_integer() else float(v) for v in np.ravel(array)]
        return flat[0] if len(flat) == 1 else flat
    if array.dtype.kind in "biuf":
        return f"<{'x'.join(map(str, array.shape))} {array.dtype}>"
    return f"<{type(entry).__name__}>"


class NetworkSummary(list):
    """What :func:`inspect_mat` returns: rows of layer facts, printable as a table."""

    def __init__(self, saved, rows):
        super().__init__(rows)
        self.network_class = saved.network_class
        self.variable = saved.variable
        self.connections = saved.connections
        self.output_names = saved.output_names
        self.candidates = saved.candidates
        self.class_problem = saved.class_problem

    def __str__(self):
        sources = {"subsystem" if row["class_source"] == "export" else row["class_source"]
                   for row in self}
        how = ("classes as recorded in the file" if sources == {"subsystem"} else
               "classes inferred from saved fields" if sources == {"fields"} else
               "classes recorded in the file or inferred from fields (*)")
        lines = [f"{self.network_class} '{self.variable}' with {len(self)} layers ({how})"]
        for row in self:
            short = row["class"].rsplit(".", 1)[-1] + ("*" if row["class_source"] == "fields"
                                                       and len(sources) > 1 else "")
            learn = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in row["learnables"].items())
            options = dict(row["options"])
            if "Normalization.Type" in options:  # older input layers' normalization object
                options = {"Normalization": options["Normalization.Type"], **options}
            keep = {k: v for k, v in options.items()
                    if not (isinstance(v, str) and v.startswith("<")) and "." not in k
                    and v not in ([], "")}
            opts = ", ".join(f"{k}={v}" for k, v in list(keep.items())[:6])
            lines.append(f"{row['position']:>3}  {row['name']:<20} {short:<28} {opts}"
                         + (f"\n{'':>26}learnables: {learn}" if learn else ""))
        if self.connections is not None:
            lines.append(f"{len(self.connections)} connections:")
            lines.extend(f"     {source} -> {destination}"
                         for source, destination in self.connections)
        if self.output_names:
            lines.append(f"Outputs: {', '.join(self.output_names)}")
        others = [c for c in self.candidates if not c.startswith(f"{self.variable} (")]
        if others:
            lines.append(f"Also in the file (variable=...): {'; '.join(others)}")
        if self.class_problem:
            lines.append(f"Note: {self.class_problem}; classes were inferred from the fields.")
        return "\n".join(lines)
