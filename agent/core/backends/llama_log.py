"""llama.cpp's log lines: one process-wide sink that keeps the recent errors for our messages."""

from __future__ import annotations

import ctypes
import sys
from collections import deque

GGML_LOG_LEVEL_DEBUG, GGML_LOG_LEVEL_ERROR, GGML_LOG_LEVEL_CONT = 1, 4, 5


class LogSink:
    """Receives llama.cpp's log lines: keeps the recent errors, echoes all only when verbose.

    llama.cpp's logger is process-global, so there is one sink; the ctypes callback is kept
    referenced here for the life of the process (a collected callback would crash llama.cpp).
    """

    def __init__(self) -> None:
        self.verbose = False
        self.errors: deque[str] = deque(maxlen=6)
        self._callback = None
        self._level = GGML_LOG_LEVEL_DEBUG  # of the message being continued

    def install(self, verbose: bool) -> None:
        import llama_cpp

        self.verbose = verbose
        if self._callback is None:
            self._callback = llama_cpp.llama_log_callback(self._on_log)
            llama_cpp.llama_log_set(self._callback, ctypes.c_void_p(0))

    def _on_log(self, level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", "replace")
        self._level = self._level if level == GGML_LOG_LEVEL_CONT else level
        if self._level == GGML_LOG_LEVEL_ERROR and message.strip():
            self.errors.append(message.strip())
        if self.verbose and self._level != GGML_LOG_LEVEL_DEBUG:
            sys.stderr.write(message)

    def last_error(self) -> str:
        """The most recent error lines llama.cpp logged, joined on one (bounded) line."""
        text = "; ".join(self.errors) or "no details logged"
        return text if len(text) < 400 else text[:397] + "..."


LOG_SINK = LogSink()
