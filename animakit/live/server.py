"""The live transport's sessions and its HTTP routes, mounted on the studio's own server.

A session is *prepared* by the studio (the plugin analyses its inputs once, in a Gradio
worker) and gets a token; the browser then POSTs its WebRTC offer with that token to
``/live/offer`` and receives the answer. ``/live/close`` ends a session (the page calls it
when it stops or closes), ``/live/sessions`` counts them, ``/live/client.js`` is the
browser side. Sessions also end when the peer connection fails or its media stops for
a few seconds (:mod:`.session`).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import Request

from ..errors import InputError
from .processor import LiveProcessor

CLIENT_JS = Path(__file__).with_name("client.js")
PENDING_S = 120.0        # a prepared session not connected within this long is dropped


def max_sessions() -> int:
    """Live sessions served at once (``ANIMAKIT_LIVE_MAX_SESSIONS``, default 4)."""
    value = os.environ.get("ANIMAKIT_LIVE_MAX_SESSIONS", "4")
    return max(1, int(value)) if value.strip().isdigit() else 4


class Registry:
    """Prepared and running sessions, shared by Gradio's worker threads and the server's
    event loop."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending: dict[str, tuple[LiveProcessor, str, float]] = {}
        self.sessions: dict[str, Any] = {}            # token -> LiveSession
        self.loop: asyncio.AbstractEventLoop | None = None

    def _sweep(self) -> None:
        now = time.monotonic()
        for token, (proc, _, born) in list(self.pending.items()):
            if now - born > PENDING_S:
                del self.pending[token]
                proc.close()

    def prepare(self, processor_factory, driver: str) -> str:
        """Token of a new prepared session; ``processor_factory()`` makes its processor
        (it may raise InputError). Refused when the server already serves its maximum."""
        with self.lock:
            self._sweep()
            busy = len(self.sessions) + len(self.pending)
        if busy >= max_sessions():
            raise InputError("live", f"the server is serving {busy} live sessions, its "
                                     f"maximum; try again when one ends")
        processor = processor_factory()
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.pending[token] = (processor, driver, time.monotonic())
        return token

    def take_pending(self, token: str) -> tuple[LiveProcessor, str] | None:
        with self.lock:
            item = self.pending.pop(token, None)
        return None if item is None else item[:2]

    def get(self, token: str) -> Any:
        with self.lock:
            return self.sessions.get(token)

    def counts(self) -> dict[str, int]:
        with self.lock:
            self._sweep()
            return {"active": len(self.sessions), "pending": len(self.pending)}

    def close_from_thread(self, token: str, timeout: float = 5.0) -> None:
        """Close session ``token`` from a thread other than the server's event loop."""
        item = self.take_pending(token)
        if item is not None:
            item[0].close()
        sess = self.get(token)
        if sess is not None and self.loop is not None:
            fut = asyncio.run_coroutine_threadsafe(sess.close(), self.loop)
            with contextlib.suppress(Exception):
                fut.result(timeout)


REGISTRY = Registry()


def _error(status: int, message: str):
    from fastapi.responses import JSONResponse
    return JSONResponse({"error": message}, status_code=status)


async def offer(request: Request) -> Any:
    """POST {token, sdp, type, stamp?} -> {sdp, type}: start the prepared session ``token``."""
    try:
        body = await request.json()
        token, sdp, kind = str(body["token"]), str(body["sdp"]), str(body["type"])
    except (ValueError, KeyError, TypeError):
        return _error(400, "expected JSON with token, sdp and type")
    item = REGISTRY.take_pending(token)
    if item is None:
        return _error(404, "this live session has expired or ended; press Start again")
    from .session import LiveSession
    processor, driver = item
    REGISTRY.loop = asyncio.get_running_loop()
    sess = LiveSession(token, processor, driver, stamp=bool(body.get("stamp")))
    with REGISTRY.lock:
        REGISTRY.sessions[token] = sess
    asyncio.ensure_future(_forget_when_closed(sess))
    try:
        return await sess.answer(sdp, kind)
    except Exception as e:         # a malformed offer: this session ends, the server goes on
        await sess.close()
        return _error(400, f"the browser's WebRTC offer was refused ({type(e).__name__})")


async def _forget_when_closed(sess) -> None:
    await sess.closed.wait()
    with REGISTRY.lock:
        REGISTRY.sessions.pop(sess.token, None)


async def close(request: Request) -> Any:
    """POST {token}: end that session now (also sent by the page as a beacon on unload)."""
    try:
        token = str((await request.json())["token"])
    except (ValueError, KeyError, TypeError):
        return _error(400, "expected JSON with token")
    item = REGISTRY.take_pending(token)
    if item is not None:
        item[0].close()
    sess = REGISTRY.get(token)
    if sess is not None:
        await sess.close()
    return {"closed": bool(sess or item)}


async def sessions(request: Request) -> Any:
    return REGISTRY.counts()


async def client_js(request: Request) -> Any:
    from fastapi.responses import FileResponse
    return FileResponse(CLIENT_JS, media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})


def mount(app) -> None:
    """Add the live routes to a FastAPI / Starlette ``app``."""
    app.add_api_route("/live/offer", offer, methods=["POST"])
    app.add_api_route("/live/close", close, methods=["POST"])
    app.add_api_route("/live/sessions", sessions, methods=["GET"])
    app.add_api_route("/live/client.js", client_js, methods=["GET"])


@contextlib.asynccontextmanager
async def lifespan(app) -> AsyncIterator[None]:
    """A FastAPI lifespan (Gradio's ``app_kwargs``): mounts the routes at startup and
    closes every live session at shutdown."""
    mount(app)
    REGISTRY.loop = asyncio.get_running_loop()
    try:
        yield
    finally:
        with REGISTRY.lock:
            running = list(REGISTRY.sessions.values())
        for sess in running:
            with contextlib.suppress(Exception):
                await sess.close()
