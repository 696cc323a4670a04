"""Button labels: cut at a word boundary with an ellipsis, never two alike."""

from __future__ import annotations

from bot.core.labels import distinct_labels, shorten

LONG = "How do we introduce energy efficiency standards and labels for appliances?"


def test_a_long_text_is_cut_at_a_word_with_an_ellipsis() -> None:
    label = shorten(LONG, 60)
    assert label == "How do we introduce energy efficiency standards and labels…" and len(label) <= 60
    assert shorten("Short question?", 60) == "Short question?"
    assert shorten("x" * 100, 20) == "x" * 19 + "…"  # one endless word: cut inside it
    assert shorten("Which tier, exactly, for cement; or lime?", 22) == "Which tier, exactly…"


def test_labels_that_would_be_alike_are_made_longer_or_numbered() -> None:
    buildings = LONG.replace("appliances", "buildings")
    labels = distinct_labels([LONG, buildings, "Other"], 60)
    assert labels[0] != labels[1] and "appliances" in labels[0] and "buildings" in labels[1]
    assert labels[2] == "Other"
    assert distinct_labels(["Same", "Same"], 60) == ["Same", "Same (2)"]
    assert len(set(distinct_labels([f"#{n} {LONG}" for n in range(1, 4)], 44))) == 3
