"""The recurrent family's variants, with random MATLAB-layout parameters and oracle calls."""


from matkeras.layers import GRU, BiLSTM, GRUProjected, LSTMProjected
from tests.reference.gru import gru_forward
from tests.reference.lstm import bilstm_forward, lstm_forward

C, H, P_IN, P_OUT = 3, 4, 2, 3
MODES = ["after-multiplication", "before-multiplication", "recurrent-bias-after-multiplication"]


class Spec:
    """One layer variant: how to build it, its MATLAB parameters, and the oracle's answer."""

    def __init__(self, name, cls, gates, directions=1, cell=True, projected=False, mode=None):
        self.name, self.cls, self.gates, self.directions = name, cls, gates, directions
        self.cell, self.projected, self.mode = cell, projected, mode

    def __repr__(self):
        return self.name

    @property
    def state_names(self):
        return ("hidden_state", "cell_state") if self.cell else ("hidden_state",)

    def options(self):
        options = {} if self.mode is None else {"reset_gate_mode": self.mode}
        if self.projected:
            options.update(output_projector_size=P_OUT, input_projector_size=P_IN)
        return options

    def make(self, **kwargs):
        return self.cls(H, **self.options(), **kwargs)

    def random_params(self, rng, state_activation="tanh"):
        scale = 0.2 if state_activation == "relu" else 0.5
        rows = self.directions * self.gates * H
        chunks = 2 if self.mode == "recurrent-bias-after-multiplication" else 1
        params = {
            "input_weights": rng.normal(0, scale, (rows, P_IN if self.projected else C)),
            "recurrent_weights": rng.normal(0, scale, (rows, P_OUT if self.projected else H)),
            "bias": rng.normal(0, scale, chunks * rows),
        }
        if self.projected:
            params["input_projector"] = rng.normal(0, 0.7, (C, P_IN))
            params["output_projector"] = rng.normal(0, 0.7, (H, P_OUT))
        return params

    def random_states(self, rng, batch=None):
        width = self.directions * H
        shape = (width,) if batch is None else (batch, width)
        return [rng.normal(0, 0.5, shape) for _ in self.state_names]

    def oracle(self, X, params, states, state_activation, gate_activation, last="final-state"):
        """(sequence output (width, N, T), last output (width, N), final states [(width, N)])."""
        acts = {"state_activation": state_activation, "gate_activation": gate_activation}
        W, R, b = params["input_weights"], params["recurrent_weights"], params["bias"]
        projectors = {"Qi": params.get("input_projector"), "Qo": params.get("output_projector")}
        if self.directions == 2:
            Y, h_last, h_step, hT, cT = bilstm_forward(X, W, R, b, *states, **acts)
            return Y, (h_last if last == "final-state" else h_step), [hT, cT]
        if self.cell:
            Y, hT, cT = lstm_forward(X, W, R, b, *states, **acts, **projectors)
            return Y, hT, [hT, cT]
        Y, hT = gru_forward(X, W, R, b, *states, reset_gate_mode=self.mode, **acts, **projectors)
        return Y, hT, [hT]


SPECS = (
    [Spec("bilstm", BiLSTM, 4, directions=2)]
    + [Spec(f"gru-{m}", GRU, 3, cell=False, mode=m) for m in MODES]
    + [Spec("lstm-projected", LSTMProjected, 4, projected=True)]
    + [Spec(f"gru-projected-{m}", GRUProjected, 3, cell=False, projected=True, mode=m)
       for m in MODES]
)
