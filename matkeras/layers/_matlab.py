"""What a layer is in MATLAB, answered by the layer itself (DESIGN.md, house style 11).

A layer with a MATLAB counterpart names its MATLAB class and lists its MATLAB properties that hold
arrays: :attr:`MatlabMapping.MATLAB_PROPERTIES`, rows of ``(MATLAB property, set_matlab_weights
keyword, attribute or function that reads it, kind)``, the kind one of ``"learnable"`` (MATLAB's
``Learnables``), ``"state"`` (MATLAB's ``State``: recurrent states, batch-normalization
statistics) or ``"statistic"`` (an input layer's normalization statistics). Every array passes
through these methods in MATLAB's layout, for reading (``dlnetwork``'s tables, the weight-file
writer, the exporters) and for writing (the saved-network readers, the weight-file reader,
``Learnables`` assignment): the converters only read and write files.
"""

import numpy as np

KINDS = ("learnable", "state", "statistic")


def initializer_unless_given(initializer, value):
    """The initializer of a variable that `value` (None: no value) is assigned to right after
    building: zeros when a value follows. A random initializer would be computed only to be
    overwritten (loading a network), at a cost: an orthogonal one is a QR decomposition, and
    on JAX every initializer compiles anew for each shape. The layer's config keeps its own."""
    return initializer if value is None else "zeros"


class MatlabMapping:
    """Mixin: ``MATLAB_CLASS`` and the MATLAB-layout arrays of a layer."""

    #: The MATLAB class this layer is (``"nnet.cnn.layer.LSTMLayer"``).
    MATLAB_CLASS = None
    #: ``(MATLAB property, set_matlab_weights keyword, attribute name or function of the
    #: layer, kind)``.
    MATLAB_PROPERTIES = ()

    def _matlab_rows(self):
        """The rows that apply to this layer as configured (a subclass may leave some out)."""
        return self.MATLAB_PROPERTIES

    def matlab_properties(self, kinds=KINDS):
        """``{MATLAB property: numpy array}`` in MATLAB's layout, for the properties of the
        given `kinds` (all by default) that the layer holds now."""
        found = {}
        for prop, _, getter, kind in self._matlab_rows():
            if kind in kinds:
                value = getter(self) if callable(getter) else getattr(self, getter)
                if value is not None:
                    found[prop] = np.asarray(value)
        return found

    def matlab_learnables(self):
        """MATLAB's ``Learnables`` of this layer: ``{property: array}``, MATLAB layout."""
        return self.matlab_properties(("learnable",))

    def matlab_states(self):
        """MATLAB's ``State`` of this layer as set (the initial recurrent states, the trained
        batch-normalization statistics): ``{property: array}``."""
        return self.matlab_properties(("state",))

    def matlab_keywords(self):
        """``{MATLAB property: set_matlab_weights keyword}`` of every property the layer takes,
        built or not."""
        return {prop: keyword for prop, keyword, _, _ in self._matlab_rows()}

    def set_matlab_properties(self, **values):
        """Sets MATLAB properties by their MATLAB names (``InputWeights=..., Bias=...``), in
        MATLAB's layout, through the layer's own checks (``set_matlab_weights``)."""
        keywords = self.matlab_keywords()
        unknown = sorted(set(values) - set(keywords))
        if unknown:
            raise ValueError(f"{self.name}: no MATLAB properties {unknown}; this "
                             f"{type(self).__name__} has {sorted(keywords)}.")
        given = {keywords[prop]: value for prop, value in values.items() if value is not None}
        if given:
            self.set_matlab_weights(**given)
