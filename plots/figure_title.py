"""A figure title that fits: wrapped to the figure's width, with a band of its own above the
panels. fig.suptitle followed by fig.tight_layout() cut a long title off at both sides
(paced_curves.png) and let a two-line one run over the first row's panel titles
(coupled_log_z_curves.png): tight_layout leaves the panels no less room for a title.
"""
import textwrap


def _width(text_artist, renderer):
    return text_artist.get_window_extent(renderer).width


def title_and_layout(fig, text, fontsize=11, margin=0.98):
    """Set `text` as fig's title, wrapped (at its spaces, keeping its own line breaks) to at
    most `margin` of the figure's width, and lay the panels out below it (tight_layout)."""
    renderer = fig.canvas.get_renderer()
    title = fig.suptitle(text, fontsize=fontsize, y=0.995, va="top")
    paragraphs = text.split("\n")
    width = max(len(p) for p in paragraphs)
    while _width(title, renderer) > margin * fig.bbox.width and width > 20:
        width = int(width * 0.95)
        # At spaces only: a hyphen or a long name is not cut ("accuracy-estimation").
        lines = [line for p in paragraphs
                 for line in (textwrap.wrap(p, width, break_on_hyphens=False, break_long_words=False) or [""])]
        title.set_text("\n".join(lines))
    band = title.get_window_extent(renderer).height / fig.bbox.height
    fig.tight_layout(rect=(0, 0, 1, 1 - band - 0.01))
    return title


def layout_problems(fig):
    """What a reader would see wrong with fig's text as drawn: a title, axis label or tick
    label cut off at the figure's edge, and a figure title over a panel or its title.
    An empty list when none."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    problems = []

    def outside(box):
        return box.x0 < page.x0 - 0.5 or box.x1 > page.x1 + 0.5 or box.y0 < page.y0 - 0.5 or box.y1 > page.y1 + 0.5

    texts = []
    suptitle = fig._suptitle  # matplotlib keeps the figure title here (no public getter in 3.6)
    if suptitle is not None and suptitle.get_text():
        texts.append(("figure title", suptitle))
    for i, ax in enumerate(fig.axes):
        for name, t in (("title", ax.title), ("x label", ax.xaxis.label), ("y label", ax.yaxis.label)):
            if t.get_text():
                texts.append((f"panel {i} {name}", t))
    for name, t in texts:
        if outside(t.get_window_extent(renderer)):
            problems.append(f"{name} '{t.get_text()[:40]}' is cut off at the figure's edge")
    if suptitle is not None and suptitle.get_text():
        top = suptitle.get_window_extent(renderer)
        for i, ax in enumerate(fig.axes):
            for name, box in (("panel", ax.get_window_extent(renderer)),
                              ("panel title", ax.title.get_window_extent(renderer) if ax.title.get_text() else None)):
                if box is not None and top.overlaps(box):
                    problems.append(f"the figure title overlaps {name} {i}")
    return problems
