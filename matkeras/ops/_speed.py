"""The recurrent ops' speed choices: one fixed rule per shape, no timing at run time.

Three choices change how fast the TensorFlow recurrence runs on CPU, never what it computes
(each value of each is checked against the float64 oracle by its own tests):

- **layout** of the recurrent product: ``"whole"``, one ``(rows, G*H)`` product per step split
  into G gate blocks, or ``"gates"``, G products of ``(rows, H)`` (``_blocks``). Cut into gates,
  TensorFlow runs the G small products side by side on the cores; one large product is already
  threaded inside the matrix kernel.
- **parts**: the batch as 1 loop or as 2 independent loops over its halves, which TensorFlow runs
  side by side (``_loop.in_parts``).
- **backward** pass of an LSTM in training: ``"steps"``, TensorFlow's gradient of the loop, or
  ``"sequence"``, the backward loop written out with the weight gradients as two products over
  all time steps (``_lstm_backward``).

The rule (:func:`plan`), with ``size = rows x columns`` of one step's recurrent product (LSTM:
``(C + 1 + H) x 4H``, the inputs and the bias row joined in; GRU: ``H x 3H``) and ``work =
batch x size``:

- layout ``"gates"`` where ``size <= 2**19``, else ``"whole"``;
- backward ``"sequence"`` wherever it applies (LSTM, TensorFlow, no mask, no output
  projector), else ``"steps"``;
- parts 2 where ``work >= 2**22``, the layer runs in one direction, the batch has 2 rows or
  more (32 assumed when it is unknown at tracing, as Keras's default batch) and the backward
  pass is not TensorFlow's gradient of the loop (GRU training, the LSTM with ``"steps"``); else
  1.

Measured on the 2-core AMD EPYC these machines have (TF 2.21, oneDNN on), every layout x parts
(x backward) combination interleaved in one process against ``torch.nn.LSTM``/``GRU`` in the same
run, medians of 5-11 rounds, milliseconds; S = (batch 32, 200 steps, 12 features, 128 units),
L = (32, 1000, 123, 320), D = the demo (27, 26, 12, 100). ``benchmarks/rule.py`` re-measures
all of it and prints the rule's choice beside the fastest (``make bench``):

===================  ============  ============  ============  ============  ==============
inference            whole, 1      whole, 2      gates, 1      gates, 2      rule
===================  ============  ============  ============  ============  ==============
LSTM S (3 runs)      27.3 / 27.4   18.6 / 18.0   15.7 / 12.5   15.9 / 12.2   gates, 1
GRU S (2 runs)       20.3 / 19.7   19.3 / 15.4   14.8 / 13.8   15.8 / 15.2   gates, 1
BiLSTM S (2 runs)    30.2 / 35.4   34.9 / 40.5   23.7 / 31.8   25.9 / 38.2   gates, 1
LSTM L (2 runs)      409 / 417     360 / 340     493 / 408     444 / 452     whole, 2
GRU L (2 runs)       419 / 546     301 / 348     346 / 326     272 / 297     gates, 2
BiLSTM L             688           758           715           1050          whole, 1
LSTM D               3.61          3.18          2.61          3.45          gates, 1
===================  ============  ============  ============  ============  ==============

Training steps (forward, backward, Adam), LSTM as steps / sequence backward:

===================  ============  ============  ============  ============  ==============
training             whole, 1      whole, 2      gates, 1      gates, 2      rule
===================  ============  ============  ============  ============  ==============
LSTM S               62.5 / 70.4   62.2 / 50.9   50.6 / 53.9   57.7 / 47.9   gates, 1, seq.
GRU S                48.8          58.0          47.3          54.7          gates, 1
BiLSTM S             82.3 / 77.4   115 / 101     76.3 / 75.7   104 / 89.1    gates, 1, seq.
LSTM L               1536 / 1401   1776 / 1092   1751 / 1338   2072 / 1239   whole, 2, seq.
GRU L                1096          1290          1012          1328          gates, 1
LSTM D               7.33 / 7.06   6.75 / 6.39   5.60 / 6.80   7.50 / 6.50   gates, 1, seq.
===================  ============  ============  ============  ============  ==============

The sequence backward pass is taken even where TensorFlow's gradient of the loop steps a little
faster (S, D: up to 1.2 ms a step): its graph is much smaller to build, and building it is what
a short training waits for (the demo's first step: 2 s against 3 s, so ``python -m
matkeras.demo --epochs 5`` trains in 2.9 s against 4.1 s). Timings on these machines move by up
to 1.5x from run to run; the rule takes the choice that is fastest or within about 10% of it
in every run, and the same bits come out of every process (no choice depends on a timing).

``MATKERAS_RECURRENT_BLOCKS=whole|gates``, ``MATKERAS_BATCH_PARTS=1|2`` and
``MATKERAS_LSTM_BACKWARD=sequence|steps`` override the rule (``auto``: the rule), and
:func:`forced` does it for a block of code (tests and the benchmark use it). Other backends
take ``"whole"``, 1 part and the backend's own gradient: the choices are TensorFlow's.

**kernel** (:func:`kernel`), the one per-backend dispatch: on PyTorch, the configurations that
``torch.lstm``/``torch.gru`` compute exactly (``matkeras.ops._torch``: MATLAB's default
activations, no mask, no projectors; GRU in the after-multiplication and
recurrent-bias-after-multiplication modes) run on those fused kernels (``"fused"``), forward and
backward; everything else, and every configuration on TensorFlow and JAX, runs the generic loop
(``"loop"``: TensorFlow's ``while_loop`` above; on JAX ``lax.scan`` through ``keras.ops.scan``,
compiled with the rest of the function under ``jax.jit``). ``MATKERAS_RECURRENT_KERNEL=loop`` (or
``forced(kernel="loop")``) keeps PyTorch on the generic loop.

**unroll** (:func:`matkeras.ops._loop.unroll_for`): TensorFlow's time loop runs 4 steps per
iteration where the recurrent product is small (up to 2^18 weights), else one.
``MATKERAS_LOOP_UNROLL=1|2|4|8`` (or ``forced(unroll=1)``) sets the steps per iteration for every
loop: the outputs are the same bits whatever the setting (the same ops per step; TensorFlow's
own gradient of a loop, which only the GRU takes, sums its weight gradients in another order),
and only the graph's size and the speed change. Measured (``benchmarks/unroll.py``, 2 cores,
batch 32, 200 steps, 12 features, 128 units), 1 against 4: a first call in 0.5x (inference) to
0.6-0.8x (``train_on_batch``) the time, a third of the graph to build; each later call 1.0-1.1x
(inference) and 0.9-1.3x (training: LSTM 1.3x) as long. A short script that predicts once may
take 1; the test suite does (``tests/conftest.py``).
"""

import collections
import contextlib
import contextvars
import os

import keras

Plan = collections.namedtuple("Plan", "layout parts backward")

#: Every value each choice takes; "auto" is the rule.
CHOICES = {"layout": ("auto", "whole", "gates"), "parts": ("auto", "1", "2"),
           "backward": ("auto", "sequence", "steps"), "kernel": ("auto", "fused", "loop"),
           "unroll": ("auto", "1", "2", "4", "8")}
_ENV = {"layout": "MATKERAS_RECURRENT_BLOCKS", "parts": "MATKERAS_BATCH_PARTS",
        "backward": "MATKERAS_LSTM_BACKWARD", "kernel": "MATKERAS_RECURRENT_KERNEL",
        "unroll": "MATKERAS_LOOP_UNROLL"}
#: The (state, gate) activations the fused kernels compute: MATLAB's defaults.
FUSED_ACTIVATIONS = ("tanh", "sigmoid")
FUSED_GRU_MODES = ("after-multiplication", "recurrent-bias-after-multiplication")
_FORCED = contextvars.ContextVar("matkeras_speed_forced", default=None)  # {choice: value}

GATES_UP_TO = 1 << 19  # product size (rows x columns) up to which the gates run side by side
PARTS_FROM = 1 << 22  # batch x product size from which the batch runs as two loops
ASSUMED_BATCH = 32  # a batch unknown when tracing (model.fit): Keras's default batch size


def plan(rows, columns, batch, directions=1, training=False, sequence_backward=False,
         steps=None, implementation="auto"):
    """The speed choices for one recurrent op call (see the module docstring).

    Args:
        rows, columns: one step's recurrent product, ``rows x columns``.
        batch: the batch size, or None when it is unknown at tracing.
        directions: how many runs of the op the caller makes side by side (a BiLSTM: 2).
        training: the result will be differentiated.
        sequence_backward: the whole-sequence backward pass can run here (an LSTM in
            training with TensorFlow, no mask, no output projector, more than one step).
        steps: the number of time steps, or None when it is unknown at tracing.
        implementation: the op's loop (``"auto"``, ``"while"``, ``"scan"``).

    A call of one row or one time step, or on the ``"scan"`` loop, is never split into batch
    parts, whatever is forced: there is nothing to run side by side.

    Returns:
        ``Plan(layout, parts, backward)``: ``"whole"``/``"gates"``, 1/2, ``"steps"``/
        ``"sequence"``.
    """
    forced = dict(settings())
    if keras.backend.backend() != "tensorflow":
        return Plan("whole", 1, "steps")
    size = int(rows) * int(columns)
    layout = forced["layout"] or ("gates" if size <= GATES_UP_TO else "whole")
    backward = "steps"
    if training and sequence_backward:
        backward = forced["backward"] or "sequence"
    rows_known = ASSUMED_BATCH if batch is None else int(batch)
    parts = forced["parts"]
    if not splittable(rows_known, steps, implementation):
        parts = 1
    elif parts is None:
        loop_gradient = training and backward == "steps"
        parts = 2 if (directions == 1 and not loop_gradient and (os.cpu_count() or 1) > 1
                      and rows_known * size >= PARTS_FROM) else 1
    return Plan(layout, int(parts), backward)


def kernel(kind, activations, mask=None, projected=False, reset_gate_mode=None,
           implementation="auto"):
    """``"fused"`` where the backend runs this recurrent configuration on a fused kernel that
    computes it exactly (PyTorch's ``torch.lstm``/``torch.gru``), else ``"loop"``.

    Args:
        kind: ``"lstm"`` or ``"gru"``.
        activations: ``(state_activation, gate_activation)``.
        mask: the op's mask (the fused kernels have none to match MATLAB's carry-over).
        projected: the layer has input or output projectors.
        reset_gate_mode: a GRU's MATLAB ``ResetGateMode``.
        implementation: the op's `implementation`; a named loop (``"while"``, ``"scan"``) is
            kept.
    """
    setting = _setting("kernel")
    if (setting == "loop" or implementation != "auto" or keras.backend.backend() != "torch"
            or tuple(activations) != FUSED_ACTIVATIONS or mask is not None or projected):
        return "loop"
    if kind == "gru" and reset_gate_mode not in FUSED_GRU_MODES:
        return "loop"
    return "fused"


def directions(activations, mask=None):
    """How a BiLSTM runs its two directions: ``"fused"``, one ``torch.lstm`` call over both
    (PyTorch, the configurations :func:`kernel` fuses; what ``torch.nn.LSTM(bidirectional=True)``
    runs); ``"joined"``, one loop whose steps make one batched product for both directions
    (JAX: XLA runs the two loops of the other way one after the other); else ``"apart"``, two
    runs of the one-direction op, which TensorFlow runs side by side. Measured on JAX (XLA CPU,
    lax.scan, batch 32, float32, jit, medians interleaved in one process): 33.8 -> 32.7 ms at
    (200 steps, 12 features, 128 units) and 847 -> 713 ms at (1000, 123, 320)."""
    backend = keras.backend.backend()
    if backend == "torch" and kernel("lstm", activations, mask) == "fused":
        return "fused"
    return "joined" if backend == "jax" else "apart"


def joined_gru_inputs(training=False):
    """Whether the GRU's inputs join each step's recurrent product (``[x_t, 1, h] K``, as the
    LSTM's always do) instead of being projected for every step before the loop: on JAX, in
    inference. Measured there (XLA CPU, lax.scan, batch 32, float32): inference 29.8 -> 15.3
    ms at (200 steps, 12 features, 128 units) and 599 -> 368 ms at (1000, 123, 320); a
    training step (Adam, MSE) 67.9 -> 68.7 ms and 1273 -> 1449 ms (the backward pass runs
    through the joined kernel's zero blocks; stock Keras: 71.6 and 1356 ms), so training
    projects first. TensorFlow keeps the rule above, which was measured with the inputs
    projected first."""
    return keras.backend.backend() == "jax" and not training


def splittable(batch, steps, implementation="auto"):
    """Whether a call of `batch` rows and `steps` time steps (None: unknown at tracing) on the
    `implementation` loop may run as batch parts: not one row, not one step, not ``"scan"``."""
    return not (batch == 1 or steps == 1 or implementation == "scan")


def unroll():
    """Time steps per iteration forced for every TensorFlow loop, or None (the rule in
    :func:`matkeras.ops._loop.unroll_for`)."""
    value = _setting("unroll")
    return None if value is None else int(value)


def settings():
    """Every choice's forcing value (:func:`forced`, else the environment, else None): what a
    trace made now depends on besides its inputs, for the caches of traced functions."""
    forced = _FORCED.get() or {}
    return tuple((name, _setting(name, forced)) for name in _NAMES)


_NAMES = tuple(sorted(CHOICES))


def _setting(name, forced=None):
    """The value forcing choice `name`: :func:`forced`, else its environment variable, else
    None (the rule)."""
    if forced is None:
        forced = _FORCED.get() or {}
    value = forced.get(name)
    if value is None:
        value = os.environ.get(_ENV[name])
        if value is None:  # the common case, first (a one-step call reads all four)
            return None
        value = value.strip().lower() or "auto"
        if value not in CHOICES[name]:
            raise ValueError(f"{_ENV[name]} must be one of {CHOICES[name]}; received {value!r}.")
    return None if value == "auto" else str(value)


@contextlib.contextmanager
def forced(**choices):
    """Ops traced inside take these choices instead of the rule: ``layout="gates"``,
    ``parts=2``, ``backward="sequence"``, ``unroll=1`` (any subset; over the environment
    variables)."""
    for name, value in choices.items():
        if name not in CHOICES or str(value) not in CHOICES[name]:
            raise ValueError(f"forced: {name}={value!r}; choose from {CHOICES}.")
    token = _FORCED.set({**(_FORCED.get() or {}), **{k: str(v) for k, v in choices.items()}})
    try:
        yield
    finally:
        _FORCED.reset(token)
