"""Training curves as PNG files, drawn with matplotlib's Agg renderer.

matplotlib is imported inside the function, so importing nnscratch stays
fast, and the figure is drawn on an Agg canvas directly instead of through
``pyplot``, so the caller's matplotlib backend is never changed.
"""

import os

_SKIPPED_KEYS = ("epoch", "lr", "seconds", "samples_per_s", "grad_norm")


def plot_history(history, path, title=None):
    """Plot loss and metrics per epoch and write them as a PNG.

    The left panel shows every key whose name contains "loss"; the right panel
    shows the other metrics (accuracy, mAP). Timing keys (``seconds``,
    ``samples_per_s``), ``lr`` and ``grad_norm`` are not plotted.

    Parameters
    ----------
    history : list of dict
        One record per epoch, as ``Trainer.fit`` returns; each has ``epoch``
        and any number of numeric values.
    path : str or os.PathLike
        The PNG to write; missing folders are created.
    title : str, optional

    Returns
    -------
    str
        The path written.
    """
    if not isinstance(history, (list, tuple)) or not history:
        raise ValueError(
            f"plot_history: history must be a non-empty list of per-epoch dicts, "
            f"got {history!r}"
        )
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [record.get("epoch", index + 1) for index, record in enumerate(history)]
    keys = []
    for record in history:
        for key, value in record.items():
            if key not in keys and key not in _SKIPPED_KEYS and _is_number(value):
                keys.append(key)
    loss_keys = [key for key in keys if "loss" in key]
    metric_keys = [key for key in keys if "loss" not in key]

    figure = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, metric_axes = figure.subplots(1, 2)
    for axes, group, label in ((loss_axes, loss_keys, "loss"),
                               (metric_axes, metric_keys, "metric")):
        for key in group:
            points = [(epoch, record[key]) for epoch, record in zip(epochs, history)
                      if _is_number(record.get(key))]
            xs, ys = zip(*points)
            axes.plot(xs, ys, marker="o", markersize=3, label=key)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(True, alpha=0.3)
        if group:
            axes.legend()
    if loss_keys and all(record.get(key, 1) > 0 for record in history
                         for key in loss_keys if _is_number(record.get(key))):
        loss_axes.set_yscale("log")
    if title:
        figure.suptitle(title)

    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def label_font(size):
    """Return Pillow's default font at ``size`` pixels for labels on figures.

    Pillow before 10.1 has only a fixed-size bitmap font, which is returned
    instead.
    """
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()
