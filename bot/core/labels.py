"""Button labels from long texts: cut at a word boundary with an ellipsis, never two alike in one list."""

from __future__ import annotations

from collections.abc import Sequence

ELLIPSIS = "…"
TICKET_LABEL = 44  # "#12 " and the start of the ticket's question


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut at a word boundary and ending in an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS) + 1]
    space = cut.rfind(" ")
    # a very long first word is cut inside it rather than leaving the label nearly empty
    cut = cut[:space] if space > limit // 3 else cut[: limit - len(ELLIPSIS)]
    return cut.rstrip(" ,;:.-–—(") + ELLIPSIS


def distinct_labels(texts: Sequence[str], limit: int) -> list[str]:
    """A label for each text; labels that would be alike are made longer until they differ, and texts
    that are alike in full get a number."""
    labels = [shorten(text, limit) for text in texts]
    for i in range(len(labels)):
        twins = [j for j in range(len(labels)) if labels[j] == labels[i]]
        if len(twins) == 1:
            continue
        longest = max(len(" ".join(texts[j].split())) for j in twins)
        wider = {j: labels[j] for j in twins}
        for longer in range(limit + 10, longest + 10, 10):
            wider = {j: shorten(texts[j], longer) for j in twins}
            if len(set(wider.values())) == len(twins):
                break
        for j in twins:
            labels[j] = wider[j]
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label} ({seen[label]})"
    return labels
