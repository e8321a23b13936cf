"""The OpenAI-compatible HTTP backend: POST {endpoint}/chat/completions (vLLM, SGLang,
`transformers serve`, hosted APIs) with the image as a base64 data URL.

At most `concurrency` requests are in flight; each is retried up to `max_retries` times on HTTP
429 / 5xx, timeouts and connection errors, waiting backoff_s * 2**attempt (capped at
backoff_max_s, full jitter; a Retry-After header is honoured), with a `timeout_s` limit per
attempt. Other 4xx answers fail at once. A request that still fails yields Reply(None, error=kind)
with kind "http_<code>", "timeout", "connect" or "bad_response": never an exception for the batch.
The API key, if any, is read from the environment variable named by `api_key_env`.
"""
from __future__ import annotations

import asyncio
import base64
import os
import random
import threading

from partverse.caption.backends import CaptionBackend, CaptionRequest, Reply
from partverse.extras import require

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def _content(payload: dict) -> str | None:
    """The assistant text of a chat completion, or None if the payload has none."""
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else None


class OpenAIBackend(CaptionBackend):
    name = "openai"

    def setup(self) -> None:
        require("httpx", "caption")
        self.url = self.config.endpoint.rstrip("/") + "/chat/completions"
        key = os.environ.get(self.config.api_key_env, "")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def body(self, request: CaptionRequest, retry: bool) -> dict:
        data_url = "data:image/png;base64," + base64.b64encode(request.image_png).decode()
        return {
            "model": self.config.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": data_url}},
                        {"type": "text", "text": request.prompt},
                    ],
                }
            ],
            "max_tokens": self.config.max_new_tokens,
            "temperature": self.config.retry_temperature if retry else 0.0,
        }

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        cfg = self.config
        if retry_after:
            try:
                return min(float(retry_after), cfg.backoff_max_s)
            except ValueError:
                pass
        return random.uniform(0, min(cfg.backoff_max_s, cfg.backoff_s * 2**attempt))

    async def _one(self, client, sem: asyncio.Semaphore, request: CaptionRequest, retry: bool) -> Reply:
        import httpx

        error = "bad_response"
        async with sem:
            for attempt in range(self.config.max_retries + 1):
                retry_after = None
                try:
                    resp = await client.post(self.url, json=self.body(request, retry), headers=self.headers)
                except httpx.TimeoutException:
                    error = "timeout"
                except httpx.TransportError:
                    error = "connect"
                else:
                    if resp.status_code == 200:
                        try:
                            text = _content(resp.json())
                        except ValueError:
                            text = None
                        return Reply(text) if text is not None else Reply(None, "bad_response")
                    error = f"http_{resp.status_code}"
                    if resp.status_code not in _RETRY_STATUS:
                        return Reply(None, error)
                    retry_after = resp.headers.get("retry-after")
                if attempt < self.config.max_retries:
                    await asyncio.sleep(self._delay(attempt, retry_after))
        return Reply(None, error)

    async def agenerate(self, requests: list[CaptionRequest], retry: bool = False) -> list[Reply]:
        import httpx

        sem = asyncio.Semaphore(self.config.concurrency)
        limits = httpx.Limits(max_connections=self.config.concurrency)
        async with httpx.AsyncClient(timeout=self.config.timeout_s, limits=limits) as client:
            return list(await asyncio.gather(*(self._one(client, sem, r, retry) for r in requests)))

    def generate(self, requests: list[CaptionRequest], retry: bool = False) -> list[Reply]:
        if not hasattr(self, "url"):
            self.setup()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.agenerate(requests, retry))
        out: list[list[Reply]] = []  # called from inside an event loop: run in a helper thread
        t = threading.Thread(target=lambda: out.append(asyncio.run(self.agenerate(requests, retry))))
        t.start()
        t.join()
        return out[0]
