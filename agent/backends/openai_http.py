"""OpenAI-compatible HTTP backend (llama.cpp's server, llama_cpp.server, vLLM, Ollama).

Uses the ``/v1/completions`` endpoint so the ReAct loop can continue a rendered prompt;
sends a GBNF ``grammar`` field, which llama.cpp servers enforce. Standard library only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request

from agent.model import Completion, ModelError, cut_at_stop

log = logging.getLogger(__name__)

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class OpenAIModel:
    """A model behind an OpenAI-compatible server.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:8080`` (``/v1`` is added if missing).
        model: the model name sent in requests (servers with one model ignore it).
        api_key: sent as a bearer token when given.
        chat_template: a Jinja2 template for :meth:`render` (the API does not expose the server's; ChatML by default).
        timeout: seconds per request.
        retries: attempts after the first on connection errors and 5xx answers, with exponential back-off.
        max_concurrent: requests in flight at once from this process.
    """

    supports_grammar = True

    def __init__(
        self,
        url: str,
        model: str = "default",
        api_key: str | None = None,
        chat_template: str = CHATML,
        timeout: float = 120.0,
        retries: int = 3,
        max_concurrent: int = 4,
    ):
        base = url.rstrip("/")
        self.base = base if base.endswith("/v1") else base + "/v1"
        self.name = f"{model}@{url}"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self._slots = threading.BoundedSemaphore(max_concurrent)
        import jinja2

        self._template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(chat_template)

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt)

    def count_tokens(self, text: str) -> int:
        try:
            out = self._post("/extras/tokenize", {"input": text}, base=self.base.removesuffix("/v1"))
            return len(out["tokens"])
        except (ModelError, KeyError, TypeError):
            return max(1, len(text) // 4)  # a server without a tokenize endpoint: a rough estimate

    def complete(
        self, prompt, *, stop=(), grammar=None, n=1, max_tokens=256, temperature=0.0, seed=None, logprobs=False
    ) -> Completion:
        body = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "n": n,
            "stop": list(stop)[:4] or None,
        }
        if grammar:
            body["grammar"] = grammar
        if seed is not None:
            body["seed"] = seed
        if logprobs:
            body["logprobs"] = 1
        t0 = time.perf_counter()
        out = self._post("/completions", body)
        choices = sorted(_choices(self.base, out), key=lambda c: c.get("index", 0))
        if len(choices) < n and n > 1:  # some servers ignore n: ask for the rest one by one
            for i in range(len(choices), n):
                extra = dict(body, n=1, seed=None if seed is None else seed + i)
                choices += _choices(self.base, self._post("/completions", extra))
        usage = out.get("usage") or {}
        texts = [cut_at_stop(c.get("text", ""), stop) for c in choices[:n]]
        lps = [list((c.get("logprobs") or {}).get("token_logprobs") or []) for c in choices[:n]] if logprobs else None
        return Completion(
            texts=texts,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=time.perf_counter() - t0,
            logprobs=lps,
            finish_reasons=[c.get("finish_reason") or "stop" for c in choices[:n]],
        )

    def _post(self, path: str, body: dict, base: str | None = None) -> dict:
        url = (base or self.base) + path
        data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        delay, last = 0.5, None
        for attempt in range(self.retries + 1):
            try:
                with self._slots:
                    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
                    with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                        return json.loads(resp.read())
            except urllib.error.HTTPError as err:
                detail = err.read()[:300].decode(errors="replace")
                if err.code < 500 and err.code not in (408, 429):  # timeouts and rate limits pass
                    raise ModelError(f"{url}: server refused the request ({err.code}): {detail}") from err
                last = f"server error {err.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as err:
                last = str(getattr(err, "reason", err))
            if attempt < self.retries:
                log.info("%s failed (%s); retrying in %.1fs", url, last, delay)
                time.sleep(delay)
                delay *= 2
        raise ModelError(f"{url}: no answer after {self.retries + 1} attempts ({last}); is the server running?")


def _choices(base: str, out: object) -> list[dict]:
    """The ``choices`` of a completion answer; a server error sent with status 200 raises ModelError."""
    choices = out.get("choices") if isinstance(out, dict) else None
    if not choices or not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise ModelError(f"{base}/completions: the server's answer has no choices: {json.dumps(out)[:300]}")
    return choices
