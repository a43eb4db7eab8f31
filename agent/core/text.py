"""Text is never fatal: every record encodes, and nothing a tool or a model writes can drive a terminal.

Two small mechanisms, each used wherever its kind of text leaves the program:

- :func:`dumps` is the one JSON writer of records (``--trace``, ``--json``, ``agent eval`` results, HTTP
  request bodies). A lone surrogate (``"\\ud800"``: from a model's reply, an undecodable file name or
  command-line byte) has no UTF-8 encoding; it is written as the text of its escape (``\\ud800``),
  never dropped and never an exception.
- :func:`clean` removes ANSI escape sequences (CSI, OSC, DCS, ...) and C0/C1 control characters except
  newline and tab. Observations are cleaned where they are made; :func:`for_terminal` adds the surrogate
  escape for what the CLI prints.

Example:
    >>> dumps({"name": "caf\\udce9.md"})
    '{"name": "caf\\\\\\\\udce9.md"}'
    >>> clean("\\x1b]0;owned\\x07red \\x1b[31mtext\\x1b[0m\\r\\n")
    'red text\\n'
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPES = re.compile(
    r"""
      \x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?        # OSC (title, hyperlink, clipboard) to BEL or ST
    | \x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?            # DCS, SOS, PM, APC strings to ST
    | \x1b\[[0-?]*[ -/]*[@-~]?                          # CSI (colours, cursor moves, screen clears)
    | \x1b[ -/]*[0-~]?                                  # two-byte escapes (ESC c resets the terminal)
    | \x9d[^\x07\x1b\x9c]*(?:\x07|\x9c)?                # 8-bit OSC
    | [\x90\x98\x9e\x9f][^\x1b\x9c]*\x9c?               # 8-bit DCS, SOS, PM, APC
    | \x9b[0-?]*[ -/]*[@-~]?                            # 8-bit CSI
    | [\x00-\x08\x0b-\x1f\x7f-\x9f]                     # any other control character (\r, \b, BEL, ...)
    """,
    re.VERBOSE,
)


def escape_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by the text of its escape (``\\ud800``): encodable as UTF-8."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps(obj: Any, **kwargs: Any) -> str:
    """JSON text of ``obj`` (``ensure_ascii=False``) that always encodes to UTF-8.

    A lone surrogate in any string or key is written as the text of its escape: read back, the string
    holds the six characters ``\\ud800`` instead of the unencodable one. Keywords go to :func:`json.dumps`.
    """
    text = json.dumps(obj, ensure_ascii=False, **kwargs)
    # a surrogate only occurs inside a JSON string, where an escaped backslash starts the escape's text
    return _SURROGATE.sub(lambda m: f"\\\\u{ord(m.group()):04x}", text)


def clean(text: str) -> str:
    """``text`` without escape sequences and control characters (newline and tab are kept)."""
    return _ESCAPES.sub("", text)


def for_terminal(text: str) -> str:
    """``text`` safe to print: cleaned, and encodable (lone surrogates as escapes)."""
    return escape_surrogates(clean(text))


__all__ = ["clean", "dumps", "escape_surrogates", "for_terminal"]
