"""A network camera (an MJPEG stream over HTTP, what IP cameras and `--camera URL` deliver) that
disappears mid-stream: the prediction ends with one clear line and a non-zero exit, not a hang.

The stream is real: a local HTTP server sends real test photos as multipart JPEG frames, and
OpenCV's own FFmpeg backend reads it, as it reads a camera on a user's network.
"""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest
from conftest import run_cli

pytest.importorskip("cv2")

FRAMES = 30


class _Camera(http.server.BaseHTTPRequestHandler):
    photos: list[bytes] = []
    then = "stall"  # after FRAMES frames: "stall" (open socket, no data) or "close"
    frames, delay = FRAMES, 0.01  # how many frames, and the seconds between two
    release = threading.Event()

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            for i in range(self.frames):
                jpeg = self.photos[i % len(self.photos)]
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                                 + jpeg + b"\r\n")
                self.wfile.flush()
                time.sleep(self.delay)
            if self.then == "stall":  # the camera is unplugged but the connection is not closed
                self.release.wait(60)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def camera(asl_test):
    _Camera.photos = [p.read_bytes() for p in sorted((asl_test / "L").iterdir())[:5]]
    _Camera.release = threading.Event()
    _Camera.frames, _Camera.delay = FRAMES, 0.01
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Camera)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
    _Camera.release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("then", ["stall", "close"])
def test_camera_that_disappears_mid_stream_ends_with_one_line(camera, then):
    _Camera.then = then
    t0 = time.monotonic()
    r = run_cli("predict", "--camera", camera, "--json", timeout=60)
    elapsed = time.monotonic() - t0
    assert r.returncode == 2, r.stderr[-2000:]
    frames = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(frames) == FRAMES  # every frame it did deliver was predicted
    assert sum(f["top"][0]["label"] == "L" for f in frames) > FRAMES // 2
    last_line = r.stderr.strip().splitlines()[-1]
    assert last_line == f"error: {camera} stopped delivering frames"
    assert "Traceback" not in r.stderr
    # a stall is detected by the frame timeout (5 s), not left to hang
    assert elapsed < 30, elapsed


def test_reading_in_python_gives_up_after_its_timeout(camera):
    from edgesign.errors import EdgesignError
    from edgesign.sources import opencv_frames

    _Camera.then = "stall"
    got, t0 = 0, None
    with pytest.raises(EdgesignError, match="stopped delivering frames"):
        for _ in opencv_frames(camera, timeout=1.0):
            got += 1
            t0 = time.monotonic()
    assert got == FRAMES and time.monotonic() - t0 < 10


def test_serve_shows_what_the_camera_sees_in_a_browser(camera, asl_test):
    """``predict --camera URL --serve``: while the camera runs, the page, the MJPEG stream of drawn frames and the
    latest result are served over HTTP (what a laptop's browser reads from a headless Pi)."""
    import io
    import re
    import subprocess
    import urllib.error
    import urllib.request

    from conftest import EDGESIGN, ROOT
    from PIL import Image

    _Camera.then, _Camera.frames, _Camera.delay = "close", 60, 0.1  # six seconds of camera
    proc = subprocess.Popen([*EDGESIGN, "predict", "--camera", camera, "--spell", "--json", "--serve", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = proc.stderr.readline()
        url = re.fullmatch(r"preview: (http://127\.0\.0\.1:\d+/) \(.*\)\n", line)
        assert url, line
        url = url.group(1)
        assert b'<img src="/stream"' in urllib.request.urlopen(url, timeout=10).read()
        with urllib.request.urlopen(url + "stream", timeout=10) as stream:
            assert stream.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
            frames = [_next_jpeg(stream) for _ in range(2)]
        latest = json.loads(urllib.request.urlopen(url + "latest.json", timeout=10).read())
        assert latest["top"][0]["label"] == "L" and "text" in latest, latest
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(url + "nowhere", timeout=10)
    finally:
        out, err = proc.communicate(timeout=60)
    photo = Image.open(sorted((asl_test / "L").iterdir())[0])
    for jpeg in frames:
        shown = Image.open(io.BytesIO(jpeg))
        assert shown.format == "JPEG" and shown.size == photo.size
    assert proc.returncode == 2 and err.strip().splitlines()[-1].endswith("stopped delivering frames"), err[-2000:]
    assert len(out.splitlines()) == 60  # every frame predicted while it served


def _next_jpeg(stream) -> bytes:
    """One part of a multipart/x-mixed-replace stream: its JPEG bytes."""
    length = None
    while True:
        line = stream.readline()
        assert line or length is not None, "the stream ended before a frame"
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        elif line in (b"\r\n", b"") and length is not None:
            return stream.read(length)


def test_serve_refuses_a_port_in_use_or_no_port_in_one_line(camera):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run_cli("predict", "--camera", camera, "--serve", f"127.0.0.1:{port}", "--max-frames", "1")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [f"error: --serve 127.0.0.1:{port}: Address already "
                                                                   "in use"], r.stderr[-2000:]
    r = run_cli("predict", "--camera", camera, "--serve", "8o8o", "--max-frames", "1")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: --serve 8o8o: give a port")


def test_enrol_serve_shows_the_capture_in_a_browser(camera, tmp_path):
    """``enrol --camera URL --serve``: the user on a headless Pi sees the camera, the hand and how many frames of the
    letter are taken."""
    import io
    import re
    import subprocess
    import urllib.request

    from conftest import EDGESIGN, ROOT
    from PIL import Image

    _Camera.then, _Camera.frames, _Camera.delay = "close", 40, 0.2  # eight seconds of camera
    personal = tmp_path / "me.tflite"
    proc = subprocess.Popen([*EDGESIGN, "enrol", "--camera", camera, "--letters", "L,Y", "--frames", "8", "--check",
                             "2", "--pause", "0", "--steady", "1", "--gap", "0", "--serve", "127.0.0.1:0", "-o",
                             personal], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        url = re.fullmatch(r"preview: (http://127\.0\.0\.1:\d+/) \(.*\)\n", proc.stderr.readline())
        assert url, "no preview line"
        with urllib.request.urlopen(url.group(1) + "stream", timeout=10) as stream:
            frame = Image.open(io.BytesIO(_next_jpeg(stream)))
        latest = json.loads(urllib.request.urlopen(url.group(1) + "latest.json", timeout=10).read())
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and personal.exists(), err[-2000:]
    assert frame.format == "JPEG" and frame.size == (224, 224)  # the camera's photos: the test split's
    assert latest["top"][0]["label"] in ("enrol L", "enrol Y"), latest
    r = run_cli("enrol", "--from", tmp_path, "--serve", "0", "-o", tmp_path / "x.tflite")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: --serve: for a camera")


def test_a_camera_that_stops_ends_the_status_line_before_the_error(camera):
    """``--spell`` on a terminal keeps one status line; when the camera stops, that line ends (the text so far stays
    on screen) and the error comes on its own line."""
    from conftest import run_on_terminal

    _Camera.then = "close"
    code, out, err = run_on_terminal("predict", "--camera", camera, "--spell", timeout=60)
    assert code == 2 and err.strip().splitlines()[-1] == f"error: {camera} stopped delivering frames", err[-2000:]
    assert out.count(b"\r\n") == 1 and out.endswith(b"\r\n") and b"   L 0." in out, out[-300:]


def test_max_frames_stops_a_camera_there(camera):
    """``--max-frames N`` on a camera: N frames predicted, the camera released, exit 0 (not its stall's error)."""
    r = run_cli("predict", "--camera", camera, "--max-frames", "5", "--json", timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert [json.loads(line)["frame"] for line in r.stdout.splitlines()] == [0, 1, 2, 3, 4]


def test_serve_beyond_the_device_asks_for_the_printed_token(monkeypatch):
    """A preview every interface can reach answers only requests carrying its token: the page, the stream and the
    JSON alike, and the page's own addresses carry it; a loopback preview needs none. A fixed token comes from
    ``$EDGESIGN_SERVE_TOKEN``, checked."""
    import urllib.error
    import urllib.request

    from edgesign.errors import EdgesignError
    from edgesign.preview import Preview

    monkeypatch.delenv("EDGESIGN_SERVE_TOKEN", raising=False)
    open_to_all = Preview(("0.0.0.0", 0))
    try:
        port = open_to_all.server.server_address[1]
        assert open_to_all.url.endswith(f":{port}/?token={open_to_all.token}") and len(open_to_all.token) >= 16
        base = f"http://127.0.0.1:{port}"
        for path in ("/", "/latest.json", "/stream", "/nowhere", f"/?token={open_to_all.token}x", "/?token="):
            with pytest.raises(urllib.error.HTTPError, match="403"):
                urllib.request.urlopen(base + path, timeout=10)
        page = urllib.request.urlopen(f"{base}/?token={open_to_all.token}", timeout=10).read().decode()
        assert f'src="/stream?token={open_to_all.token}"' in page and f"/latest.json?token={open_to_all.token}" in page
        assert urllib.request.urlopen(f"{base}/latest.json?token={open_to_all.token}", timeout=10).read() == b"{}"
    finally:
        open_to_all.close()
    again = Preview(("0.0.0.0", 0))
    again.close()
    assert again.token != open_to_all.token  # a new one each run

    local = Preview(("127.0.0.1", 0))
    try:
        assert local.token is None and local.url.endswith("/")
        assert urllib.request.urlopen(local.url + "latest.json", timeout=10).read() == b"{}"
    finally:
        local.close()

    monkeypatch.setenv("EDGESIGN_SERVE_TOKEN", "pi-kitchen-2026")
    fixed = Preview(("0.0.0.0", 0))
    fixed.close()
    assert fixed.url.endswith("/?token=pi-kitchen-2026")
    for bad in ("short", "has space in it", "a&b=cdefgh"):
        monkeypatch.setenv("EDGESIGN_SERVE_TOKEN", bad)
        with pytest.raises(EdgesignError, match="EDGESIGN_SERVE_TOKEN: give at least 8"):
            Preview(("0.0.0.0", 0))
