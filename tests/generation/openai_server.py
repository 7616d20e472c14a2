"""A small real HTTP server speaking the OpenAI protocol on loopback, backed by a tiny model.

It implements ``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/completions``
by running a model loaded with the transformers backend, and can be told to fail the next
requests (HTTP 503 or 429, with or without ``Retry-After``) to exercise client retries.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from review.generation import GenerationParams, GenerationRequest
from review.generation.transformers_backend import LoadedModel, generate_loaded


class CompletionServer:
    """Serve ``loaded`` as model ``model_id`` on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, loaded: LoadedModel | None, model_id: str = "tiny-llama", delay: float = 0.0,
                 responder: Callable[[list[dict]], str] | None = None) -> None:
        self.loaded = loaded
        self.responder = responder  # scripted chat answers instead of the model's
        self.model_id = model_id
        self.delay = delay
        self.failures: list[tuple[int, str | None]] = []  # (status, Retry-After) for next requests
        self.requests: list[tuple[str, int]] = []  # (path, status) of every request answered
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> CompletionServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def fail_next(self, count: int, status: int = 503, retry_after: str | None = None) -> None:
        with self._lock:
            self.failures.extend([(status, retry_after)] * count)

    def reset(self) -> None:
        with self._lock:
            self.failures.clear()
            self.requests.clear()
            self.max_in_flight = 0

    def statuses(self, path: str) -> list[int]:
        return [status for p, status in self.requests if p == path]

    # -- request handling ---------------------------------------------------------------------

    def _complete(self, body: dict, chat: bool) -> tuple[int, dict]:
        if body.get("model") != self.model_id:
            return 404, {"error": {"message": f"model {body.get('model')!r} not found"}}
        params = GenerationParams(max_new_tokens=int(body.get("max_tokens", 16)),
                                  temperature=float(body.get("temperature", 0.0)),
                                  top_p=float(body.get("top_p", 1.0)),
                                  seed=int(body.get("seed", 0)), use_chat_template=chat)
        if chat:
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                return 400, {"error": {"message": "messages must be a non-empty list"}}
            request, prompt = GenerationRequest(key="request", messages=messages), None
        else:
            prompt = body.get("prompt")
            if not isinstance(prompt, str):
                return 400, {"error": {"message": "prompt must be a string"}}
            request = None
        if request is not None and self.responder is not None:
            text = self.responder(messages)
            tokens = len(text.split())
        else:
            text, tokens = self._generate(request, prompt, params)
        choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                  if chat else {"index": 0, "text": text, "finish_reason": "stop"})
        return 200, {
            "id": "cmpl-test", "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()), "model": self.model_id,
            "system_fingerprint": "tiny-fp", "choices": [choice],
            "usage": {"prompt_tokens": 0, "completion_tokens": tokens, "total_tokens": tokens},
        }

    def _generate(self, request: GenerationRequest | None, prompt: str | None,
                  params: GenerationParams) -> tuple[str, int]:
        with self._model_lock:
            if request is not None:
                (result,) = generate_loaded(self.loaded, [request], params)
                return result.text, result.token_count
            return self._complete_text(prompt, params.max_new_tokens)

    def _complete_text(self, prompt: str, max_new_tokens: int) -> tuple[str, int]:
        import torch

        tokenizer, model = self.loaded.tokenizer, self.loaded.model
        ids = torch.tensor([tokenizer(prompt)["input_ids"]])
        with torch.inference_mode():
            output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                    max_new_tokens=max_new_tokens, pad_token_id=self.loaded.pad_token_id)
        new = output[0, ids.shape[1]:].tolist()
        return tokenizer.decode(new, skip_special_tokens=True).strip(), len(new)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def version_string(self) -> str:  # the Server header
                return "tiny-openai/1.0"

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
                with server._lock:
                    server.requests.append((self.path, status))

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": server.model_id, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    failure = server.failures.pop(0) if server.failures else None
                try:
                    if server.delay:
                        time.sleep(server.delay)
                    if failure is not None:
                        status, retry_after = failure
                        headers = {"Retry-After": retry_after} if retry_after is not None else {}
                        self._send(status, {"error": {"message": "server overloaded"}}, headers)
                        return
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        self._send(400, {"error": {"message": "invalid JSON"}})
                        return
                    if self.path == "/v1/chat/completions":
                        self._send(*server._complete(body, chat=True))
                    elif self.path == "/v1/completions":
                        self._send(*server._complete(body, chat=False))
                    else:
                        self._send(404, {"error": {"message": "not found"}})
                finally:
                    with server._lock:
                        server.in_flight -= 1

        return Handler
