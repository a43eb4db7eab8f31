"""Answer matching: when a predicted answer equals a reference one (the eval tasks' check, the trainer's filter).

Numbers are compared exactly as fractions (``$1,000`` == ``1000``, ``0.5`` == ``1/2``); text answers by
their words (lower case, punctuation and articles dropped, as SQuAD does).
"""

from __future__ import annotations

import re
from fractions import Fraction

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def last_number(text: str | None) -> Fraction | None:
    """The last number in ``text`` as an exact fraction (``1,000`` and ``$5`` read as numbers)."""
    if not text:
        return None
    cleaned = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text).replace("$", "")
    found = NUMBER.findall(cleaned)
    return Fraction(found[-1]) if found else None


def normalize_words(text: str | None) -> str:
    """Lower case, without punctuation, articles and extra spaces (SQuAD-style)."""
    words = re.sub(r"[^\w\s]", " ", (text or "").lower()).split()
    return " ".join(w for w in words if w not in {"a", "an", "the"})


def match_answer(prediction: str | None, gold: str) -> bool:
    """Exact match: on the final number when ``gold`` is a number, else on the normalised words."""
    gold_value = last_number(gold) if NUMBER.fullmatch(gold.replace(",", "").replace("$", "").strip()) else None
    if gold_value is not None:
        return last_number(prediction) == gold_value
    return bool(prediction) and normalize_words(prediction) == normalize_words(gold)
