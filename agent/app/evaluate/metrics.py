"""Ranking metrics for scorers (verifiers, judges, process reward models)."""

from __future__ import annotations

from collections.abc import Iterable


def roc_auc(scored: Iterable[tuple[float, bool]]) -> float:
    """The chance that a random positive scores above a random negative (ties count half); NaN without both.

    Example:
        >>> roc_auc([(0.9, True), (0.2, False), (0.5, True), (0.5, False)])
        0.875
    """
    pairs = list(scored)
    pos = sorted(s for s, y in pairs if y)
    neg = sorted(s for s, y in pairs if not y)
    if not pos or not neg:
        return float("nan")
    import bisect

    wins = sum(bisect.bisect_left(neg, p) + 0.5 * (bisect.bisect_right(neg, p) - bisect.bisect_left(neg, p))
               for p in pos)
    return wins / (len(pos) * len(neg))


__all__ = ["roc_auc"]
