"""Report plots drawn with matplotlib (Agg backend) and returned as base64 PNG strings."""
from __future__ import annotations

import base64
import io
from collections import Counter

import numpy as np

COLOUR = "#4363d8"


def _figure(width: float = 5.0, height: float = 3.2):  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=96, layout="constrained")


def _png(fig) -> str:  # noqa: ANN001
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _int_locator():  # noqa: ANN202
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _integer_axes(ax, y: bool = True) -> None:  # noqa: ANN001
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if y:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _plain_log_ticks(ax) -> None:  # noqa: ANN001
    from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(LogLocator(base=10, numticks=8))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _empty(ax, what: str) -> None:  # noqa: ANN001
    ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def integer_histogram(values: np.ndarray, xlabel: str, title: str) -> str:
    """Bars for each integer value of (N,) ints (e.g. parts per object)."""
    fig, ax = _figure()
    if len(values):
        lo, hi = int(values.min()), int(values.max())
        counts = np.bincount(values - lo, minlength=hi - lo + 1)
        ax.bar(np.arange(lo, hi + 1), counts, width=0.85, color=COLOUR)
        _integer_axes(ax)
    else:
        _empty(ax, "objects")
    ax.set(xlabel=xlabel, ylabel="objects", title=title)
    return _png(fig)


def log_histogram(values: np.ndarray, xlabel: str, ylabel: str, title: str, bins: int = 30) -> str:
    """Histogram of positive (N,) values on a log x axis (face counts, sizes)."""
    fig, ax = _figure()
    values = np.asarray(values, dtype=np.float64)
    values = values[values > 0]
    if len(values):
        lo, hi = values.min(), values.max()
        edges = np.geomspace(lo, hi * 1.0001, bins + 1) if hi > lo else np.array([lo * 0.9, lo * 1.1])
        ax.hist(values, bins=edges, color=COLOUR)
        ax.set_xscale("log")
        _plain_log_ticks(ax)
    else:
        _empty(ax, "values")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return _png(fig)


def linear_histogram(values: np.ndarray, xlabel: str, ylabel: str, title: str, bins: int = 20,
                     labels: list[str] | None = None) -> str:
    """Histogram of one or several (N,) arrays (`values` a list when several, named by `labels`)."""
    fig, ax = _figure()
    series = values if isinstance(values, list) else [values]
    if any(len(v) for v in series):
        ax.hist(series, bins=bins, label=labels, color=None if labels else COLOUR)
        ax.yaxis.set_major_locator(_int_locator())
        if labels:
            ax.legend()
    else:
        _empty(ax, "values")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return _png(fig)


def bar_counts(items: list[str], xlabel: str, title: str, top: int = 20) -> str:
    """Horizontal bars of the `top` most frequent strings, the rest summed as '(other)'."""
    counts = Counter(items).most_common()
    shown = counts[:top]
    if len(counts) > top:
        shown.append(("(other)", sum(n for _, n in counts[top:])))
    fig, ax = _figure(5.0, max(2.0, 0.28 * len(shown) + 1.0))
    if shown:
        names, values = zip(*reversed(shown))
        ax.barh(range(len(names)), values, color=COLOUR)
        ax.set_yticks(range(len(names)), names)
        _integer_axes(ax, y=False)
    else:
        _empty(ax, "values")
    ax.set(xlabel=xlabel, title=title)
    return _png(fig)
