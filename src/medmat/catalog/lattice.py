"""Draw the MAT lattice (modality x area, cell = number of datasets or subsets) as a PNG."""

from __future__ import annotations

import io

from medmat.errors import MedmatError


def render_lattice_png(
    modalities: list[str], areas: list[str], counts: list[list[int]], title: str
) -> bytes:
    """PNG bytes of an annotated heatmap; identical inputs give identical bytes."""
    if not modalities or not areas:
        raise MedmatError(
            "nothing to draw: no catalog entry matches the filters; loosen --modality/--area/--task"
        )
    import matplotlib

    matplotlib.use("Agg", force=True)  # never needs a display; safe in CI
    import matplotlib.pyplot as plt
    import numpy as np

    data = np.asarray(counts, dtype=float)
    masked = np.ma.masked_equal(data, 0)  # empty cells stay white: the gaps CG experiments probe
    width = max(6.0, 0.62 * len(areas) + 2.8)
    height = max(3.0, 0.5 * len(modalities) + 1.8)
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    try:
        cmap = matplotlib.colormaps["Blues"].with_extremes(bad="white")
        top = max(1.0, float(data.max()))
        image = ax.imshow(masked, cmap=cmap, vmin=0, vmax=top, aspect="auto")
        ax.set_xticks(range(len(areas)), labels=areas, rotation=45, ha="right")
        ax.set_yticks(range(len(modalities)), labels=modalities)
        ax.set_xlabel("anatomical area")
        ax.set_ylabel("modality")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(np.arange(-0.5, len(areas)), minor=True)
        ax.set_yticks(np.arange(-0.5, len(modalities)), minor=True)
        ax.grid(which="minor", color="#dddddd", linewidth=0.5)
        ax.tick_params(which="minor", length=0)
        for i in range(len(modalities)):
            for j in range(len(areas)):
                value = int(data[i, j])
                if value:
                    dark = value > top * 0.6
                    ax.text(j, i, str(value), ha="center", va="center", fontsize=9,
                            color="white" if dark else "black")  # fmt: skip
        fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
        fig.tight_layout()
        buf = io.BytesIO()
        # No software/date metadata: the same catalog must give a byte-identical PNG.
        fig.savefig(buf, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return buf.getvalue()

