"""Small charts drawn on the server as SVG, readable without JavaScript: each has a text
alternative, and its numbers are printed on it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape

LEVELS = (1, 2, 3, 4, 5)
BAR_WIDTH, GAP, HEIGHT, LABEL = 18, 6, 48, 14


def score_distribution(title: str, scores: Sequence[int]) -> str:
    """How many scorers gave each score from 1 to 5, as bars with the count above each."""
    counts = Counter(scores)
    tallest = max(counts.values(), default=0) or 1
    width = len(LEVELS) * (BAR_WIDTH + GAP) + GAP
    summary = ", ".join(f"{counts[level]} gave {level}" for level in LEVELS)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
        f'height="{HEIGHT + 2 * LABEL}" viewBox="0 0 {width} {HEIGHT + 2 * LABEL}">',
        f"<title>{escape(title)}: {summary}</title>",
    ]
    for index, level in enumerate(LEVELS):
        x = GAP + index * (BAR_WIDTH + GAP)
        bar = round(HEIGHT * counts[level] / tallest)
        top = LABEL + HEIGHT - bar
        parts.append(
            f'<rect x="{x}" y="{top}" width="{BAR_WIDTH}" height="{bar}" class="count s{level}"/>'
        )
        if counts[level]:
            parts.append(
                f'<text x="{x + BAR_WIDTH // 2}" y="{top - 3}" text-anchor="middle">'
                f"{counts[level]}</text>"
            )
        parts.append(
            f'<text x="{x + BAR_WIDTH // 2}" y="{HEIGHT + 2 * LABEL - 2}" '
            f'text-anchor="middle" class="level">{level}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
