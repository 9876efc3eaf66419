"""`predict --serve`: what the camera sees, in a browser on another machine (a headless Pi on the network).

An MJPEG stream of the frames with the hand, the label and the spelled text drawn (``/stream``), the latest result as
JSON (``/latest.json``) and a page that shows both (``/``). The standard library's HTTP server and Pillow's JPEG
encoder, nothing else. Frames are drawn and encoded only while someone watches, at most ``fps`` a second, so an
unwatched preview costs the camera loop nothing.

Served beyond the device itself (any host but a loopback one), every request must carry the address's ``?token=``:
a random one each run, printed with the address, or ``$EDGESIGN_SERVE_TOKEN`` (a bookmark that outlives the run);
anyone else on the network gets 403, not the camera. It is a shared link over plain HTTP, not a login.
"""

from __future__ import annotations

import hmac
import io
import ipaddress
import json
import os
import secrets
import socket
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import EdgesignError

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>edgesign</title>
<style>body{background:#111;color:#eee;font:16px sans-serif;margin:1em}img{max-width:100%}
#t{font:28px monospace;margin:.5em 0}</style></head><body>
<div id="t"></div><img src="/stream{query}" alt="the camera">
<script>
async function poll(){try{const r=await (await fetch('/latest.json{query}')).json();
document.getElementById('t').textContent=(r.text!==undefined?'text: '+r.text+'  ':'')+
(r.top&&r.top.length?r.top[0].label+' '+r.top[0].probability.toFixed(2):'');}catch(e){}
setTimeout(poll,300);}
poll();
</script></body></html>
"""


def parse_address(text: str) -> tuple[str, int]:
    """``--serve``: PORT (every interface) or HOST:PORT; port 0 takes a free one."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise EdgesignError(f"--serve {text}: give a port (8080) or HOST:PORT (127.0.0.1:8080)")
    return host or "0.0.0.0", number


def needs_token(host: str) -> bool:
    """Whether a preview bound to ``host`` can be reached from other machines (so it asks for the token)."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a host name: whatever it resolves to, another machine may reach it


def serve_token() -> str:
    """``$EDGESIGN_SERVE_TOKEN`` (checked: it goes into addresses as it is), else a new random token."""
    fixed = os.environ.get("EDGESIGN_SERVE_TOKEN")
    if fixed is None or fixed == "":
        return secrets.token_urlsafe(12)
    if len(fixed) < 8 or not all(c.isascii() and (c.isalnum() or c in "-_.~") for c in fixed):
        raise EdgesignError("EDGESIGN_SERVE_TOKEN: give at least 8 letters, digits or - _ . ~ (it goes into the "
                            "preview's address as it is)")
    return fixed


class Preview:
    """The latest drawn frame and result, served over HTTP on its own threads until :meth:`close`."""

    def __init__(self, address: tuple[str, int], fps: float = 15.0) -> None:
        self.token = serve_token() if needs_token(address[0]) else None
        self.page = PAGE.replace("{query}", self.query).encode()
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._result: dict[str, Any] = {}
        self._seq, self._watchers, self._closed = 0, 0, False
        self._interval, self._published = 1.0 / fps, 0.0
        try:
            self.server = ThreadingHTTPServer(address, partial(_Handler, self))
        except OSError as exc:
            raise EdgesignError(f"--serve {address[0]}:{address[1]}: {exc.strerror or exc}") from None
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="edgesign-preview", daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{socket.gethostname() if host == '0.0.0.0' else host}:{port}/{self.query}"

    @property
    def query(self) -> str:
        """What each address of this preview ends with: ``?token=...``, or nothing on a loopback host."""
        return f"?token={self.token}" if self.token else ""

    def admits(self, query: str) -> bool:
        """Whether a request's query string carries this preview's token (always, when it has none)."""
        if self.token is None:
            return True
        given = parse_qs(query).get("token", [""])[0]
        return hmac.compare_digest(given.encode(), self.token.encode())

    def wanted(self) -> bool:
        """Whether a frame published now would be seen: someone watches and the last one is old enough."""
        return self._watchers > 0 and time.perf_counter() - self._published >= self._interval

    def publish_result(self, result: dict[str, Any]) -> None:
        with self._cond:
            self._result = dict(result)  # a copy: the caller may add to its own while a handler reads this one

    def publish(self, image, result: dict[str, Any], hand, caption: str | None = None) -> None:
        """Draw ``image`` with its hand, top class and ``caption`` (by default the spelled text), and hand it to every
        watcher."""
        from .draw import draw_result

        best = result["top"][0] if result.get("top") else {"label": "-", "probability": 0.0}
        if caption is None and "text" in result:
            caption = f"text: {result['text']}"
        buf = io.BytesIO()
        draw_result(image, best["label"], best["probability"], hand, caption=caption).save(buf, "JPEG", quality=80)
        with self._cond:
            self._jpeg, self._result, self._seq = buf.getvalue(), dict(result), self._seq + 1
            self._published = time.perf_counter()
            self._cond.notify_all()

    def next_frame(self, seen: int, timeout: float = 1.0) -> tuple[int, bytes | None]:
        """The frame after number ``seen`` (0: none yet; waits up to ``timeout``); (seen, None) when none came or it
        closed. Frames are numbered from 1, so a frame exists once the number is above 0."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > seen or self._closed, timeout)
            if self._closed or self._seq <= seen:
                return seen, None
            return self._seq, self._jpeg

    def watching(self, delta: int) -> None:
        with self._cond:
            self._watchers += delta

    def latest(self) -> dict[str, Any]:
        with self._cond:
            return self._result

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, preview: Preview, *args, **kwargs) -> None:
        self.preview = preview
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # quiet: predict's own output is what the user reads
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if not self.preview.admits(url.query):
            self._send(403, "text/plain", b"forbidden: open the address edgesign printed, with its ?token=\n")
        elif url.path == "/":
            self._send(200, "text/html; charset=utf-8", self.preview.page)
        elif url.path == "/latest.json":
            self._send(200, "application/json", json.dumps(self.preview.latest()).encode())
        elif url.path == "/stream":
            self._stream()
        else:
            self._send(404, "text/plain", b"not found: / (the page), /stream (MJPEG), /latest.json\n")

    def _send(self, code: int, kind: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.preview.watching(+1)
        seen = 0
        try:
            while not self.preview.closed:
                seen, jpeg = self.preview.next_frame(seen)
                if jpeg is None:
                    continue
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg))
                self.wfile.write(jpeg + b"\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away
        finally:
            self.preview.watching(-1)
