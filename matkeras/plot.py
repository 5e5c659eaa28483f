"""Plots MATLAB users look at: hidden-unit activations over time, training progress (matplotlib,
imported on use).

Without a display (a server, CI) pass ``path`` to write the figure to a file.
"""

import numpy as np

__all__ = ["activations_heatmap", "training_progress"]


def activations_heatmap(values, ax=None, path=None, title="Activations over time", units=None,
                        colormap="parula"):
    """Draws hidden units (rows) against time steps (columns), as MATLAB's "Visualize
    Activations of LSTM Network" example does with ``heatmap``.

    Args:
        values: ``(T, H)`` activations of one observation (one item of
            :func:`matkeras.inference.activations`'s result).
        ax: matplotlib axes to draw on (a new figure when None).
        path: write the figure there (PNG, PDF... by extension); nothing is overwritten unless
            the file is one this call creates.
        title: the axes title.
        units: which hidden units (indices) to show; all by default.
        colormap: a matplotlib colormap name; ``"parula"`` (MATLAB's default) maps to the close
            ``"viridis"``.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError("activations_heatmap draws one observation's (time, units) activations; "
                         f"received shape {values.shape}. Pass one item of activations(...).")
    if units is not None:
        values = values[:, list(units)]
    figure = ax.figure if ax is not None else plt.figure(figsize=(8, 4))
    ax = ax if ax is not None else figure.add_subplot()
    image = ax.imshow(values.T, aspect="auto", interpolation="nearest", origin="lower",
                      cmap="viridis" if colormap == "parula" else colormap)
    ax.set_xlabel("Time step")
    ax.set_ylabel("Hidden unit")
    ax.set_title(title)
    figure.colorbar(image, ax=ax)
    if path is not None:
        import os

        if os.path.exists(path):
            raise FileExistsError(f"{path} exists; pass another path or remove it first.")
        figure.savefig(path, dpi=100, bbox_inches="tight")
    return figure


def training_progress(info, path=None, title="Training progress"):
    """The training progress of ``trainnet`` (MATLAB's ``Plots="training-progress"`` window and
    ``show(info)``): one panel per metric of the options' Metrics and one for the loss, each
    against the iteration, with the validation rows as black dashed points.

    Args:
        info: the :class:`matkeras.workflows.current.TrainingInfo` trainnet returned.
        path: write the figure there (an existing file is refused); else only returned.
        title: the figure title (the stop reason is added).

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    history, validation = info.TrainingHistory, info.ValidationHistory
    fixed = ("Iteration", "Epoch", "TimeElapsed", "LearnRate", "Loss")
    panels = [c for c in history.columns if c not in fixed] + ["Loss"]
    figure, axes = plt.subplots(len(panels), 1, figsize=(8, 2.6 * len(panels)), sharex=True,
                                squeeze=False)
    iterations = history.column("Iteration") if len(history) else np.zeros(0)
    for ax, name in zip(axes[:, 0], panels, strict=True):
        if len(history):
            ax.plot(iterations, history.column(name), label="training",
                    color="tab:orange" if name == "Loss" else "tab:blue")
        if len(validation) and name in validation.columns:
            ax.plot(validation.column("Iteration"), validation.column(name), "k--o",
                    markersize=3, label="validation")
        ax.set_ylabel(f"{name} (%)" if name == "Accuracy" else name)
        ax.legend(loc="best")
    if info.OutputNetworkIteration and len(validation):
        for ax in axes[:, 0]:
            ax.axvline(info.OutputNetworkIteration, color="0.6", linewidth=0.8)
    axes[-1, 0].set_xlabel("Iteration")
    figure.suptitle(f"{title}: {info.StopReason}")
    if path is not None:
        import os

        if os.path.exists(path):
            raise FileExistsError(f"{path} exists; pass another path or remove it first.")
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
    return figure
