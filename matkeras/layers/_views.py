"""MATLAB-layout property mixins of the recurrent layers that have them."""


class CellStateMixin:
    """The ``cell_state`` property of LSTM-like layers."""

    @property
    def cell_state(self):
        """MATLAB ``CellState``: the initial cell state, or None with state inputs."""
        return self._matlab_value("cell_state")


class ProjectorsMixin:
    """The ``input_projector``/``output_projector`` MATLAB views of projected layers."""

    _PROJECTED = True

    @property
    def input_projector(self):
        """MATLAB ``InputProjector`` (C, InputProjectorSize) (a numpy copy; the Keras variable,
        same layout, is ``input_projector_variable``)."""
        return self._matlab_value("input_projector")

    @input_projector.setter
    def input_projector(self, value):
        self.set_matlab_weights(input_projector=value)

    @property
    def output_projector(self):
        """MATLAB ``OutputProjector`` (H, OutputProjectorSize) (a numpy copy; the Keras variable
        is ``output_projector_variable``)."""
        return self._matlab_value("output_projector")

    @output_projector.setter
    def output_projector(self, value):
        self.set_matlab_weights(output_projector=value)
