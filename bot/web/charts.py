"""Server-rendered SVG charts: stacked bars, lines against a target, horizontal bars. Labels are escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#1f5f99", "#d9822b", "#2e8540", "#8e44ad", "#c0392b", "#16a085", "#7f6000", "#555555")
W, H, LEFT, BOTTOM, TOP = 640, 240, 40, 40, 12


def _frame(title: str, body: list[str], legend: Sequence[str], height: int = H) -> Markup:
    keys = "".join(f'<span class="key"><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
                   f'fill="{PALETTE[n % len(PALETTE)]}"/></svg> {escape(name)}</span>' for n, name in enumerate(legend))
    svg = (f'<svg viewBox="0 0 {W} {height}" role="img" aria-label="{escape(title)}" '
           f'preserveAspectRatio="xMidYMid meet"><title>{escape(title)}</title>{"".join(body)}</svg>')
    return Markup(f'<figure class="chart"><figcaption>{escape(title)}</figcaption>{svg}'
                  f'<div class="legend">{keys}</div></figure>')


def nice_top(value: float) -> float:
    """The smallest of 4, 8, 12, 20, 40, 80, 120, 200… at or above `value`, so the four grid steps are whole."""
    return float(next(m * 10**e for e in range(12) for m in (4, 8, 12, 20) if m * 10**e >= value))


def _axis(top: float, unit: str) -> list[str]:
    parts = []
    for n in range(5):
        y = TOP + (H - TOP - BOTTOM) * n / 4
        value = top * (4 - n) / 4
        parts.append(f'<line x1="{LEFT}" x2="{W}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                     f'{value:.0f}{escape(unit)}</text>')
    return parts


def _labels(labels: Sequence[str], step: float) -> list[str]:
    every = max(1, len(labels) // 8)
    return [f'<text x="{LEFT + step * (i + 0.5):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" font-size="11">'
            f'{escape(label)}</text>' for i, label in enumerate(labels) if i % every == 0]


def stacked_bars(title: str, labels: Sequence[str], series: dict[str, list[float]], unit: str = "") -> Markup:
    """One bar per label, stacked by series (e.g. tickets per week by queue)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = nice_top(max([*totals, 1]))
    step = (W - LEFT) / max(len(labels), 1)
    scale = (H - TOP - BOTTOM) / top
    body = _axis(top, unit)
    for i in range(len(labels)):
        y: float = H - BOTTOM
        for n, (name, values) in enumerate(series.items()):
            height = values[i] * scale
            if height <= 0:
                continue
            y -= height
            body.append(f'<rect x="{LEFT + step * i + step * 0.15:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
                        f'height="{height:.1f}" fill="{PALETTE[n % len(PALETTE)]}">'
                        f'<title>{escape(name)} {escape(labels[i])}: {values[i]:g}</title></rect>')
    return _frame(title, body + _labels(labels, step), list(series))


def lines(title: str, labels: Sequence[str], series: dict[str, list[float | None]], target: float | None = None,
          unit: str = "%", top: float = 100, target_label: str = "target") -> Markup:
    """Lines over the labels (gaps where a value is None), with a dashed target line (named `target_label`)."""
    step = (W - LEFT) / max(len(labels), 1)
    scale = (H - TOP - BOTTOM) / top
    body = _axis(top, unit)
    if target is not None:
        y = H - BOTTOM - target * scale
        body.append(f'<line x1="{LEFT}" x2="{W}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c0392b" stroke-dasharray="6 4">'
                    f'<title>{escape(target_label)} {target:g}{escape(unit)}</title></line>')
    for n, (name, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = [(LEFT + step * (i + 0.5), H - BOTTOM - v * scale, v) for i, v in enumerate(values) if v is not None]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"><title>{escape(name)}: {v:.1f}'
                 f'{escape(unit)}</title></circle>' for x, y, v in points]
    return _frame(title, body + _labels(labels, step), list(series))


def hbars(title: str, rows: Sequence[tuple[str, float]], unit: str = "") -> Markup:
    """Horizontal bars, one per row (e.g. the FAQ entries used most)."""
    height = max(60, 26 * len(rows) + 10)
    top = max([v for _, v in rows] or [1]) or 1
    label_w = 240
    body = []
    for i, (label, value) in enumerate(rows):
        y = 6 + 26 * i
        width = (W - label_w - 60) * value / top
        body.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label[:38])}'
                    f'</text><rect x="{label_w}" y="{y}" width="{width:.1f}" height="20" fill="{PALETTE[0]}"/>'
                    f'<text x="{label_w + width + 4:.1f}" y="{y + 15}" font-size="12">{value:g}{escape(unit)}</text>')
    if not rows:
        body.append('<text x="10" y="30" font-size="13">—</text>')
    return _frame(title, body, [], height)
