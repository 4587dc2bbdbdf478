"""A headless Chromium driven over the DevTools protocol, for the browser tests.

Chromium is driven through ``--remote-debugging-pipe`` (file descriptors 3 and 4), with the
standard library only: no selenium, no playwright. :func:`problems` lists the console
errors, uncaught exceptions, failed loads and requests that are not ``file:``/``data:`` URLs
among the events a page produced.

Chromium is a system package (Debian: ``apt-get install chromium``). Without it the tests
skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

_TIMEOUT_S = 60.0


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("chromium is not installed; CI must install it (apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


class Browser:
    """A headless Chromium with one page, spoken to over the DevTools pipe."""

    def __init__(self, exe: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="apl-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Move the child's ends above 9, so that the redirections to 3 and 4 below cannot
        # overwrite one another (pytest may have left fds 3 and 4 free for os.pipe()).
        to_chrome_r, from_chrome_w = (self._high_fd(to_chrome_r), self._high_fd(from_chrome_w))
        args = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
            "--remote-debugging-pipe", f"--user-data-dir={self._profile}",
            "--window-size=1280,900", "about:blank",
        ]
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', "bash", *args],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: queue.Queue = queue.Queue()
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    @staticmethod
    def _high_fd(fd: int) -> int:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return high

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        self._replies[msg["id"]] = msg
                        self._lock.notify_all()
                else:
                    self._events.put(msg)

    def call(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        ident = self._next_id
        msg = {"id": ident, "method": method, "params": params or {}}
        if self.session is not None:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + _TIMEOUT_S
        with self._lock:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no reply from chromium to {method}")
                self._lock.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open(self, url: str, settle_s: float = 1.0) -> list[dict]:
        """Load ``url``; return every event until ``settle_s`` after the load event."""
        while True:  # what the previous page logged late is not this page's
            try:
                self._events.get_nowait()
            except queue.Empty:
                break
        self.call("Page.navigate", {"url": url})
        events, loaded_at = [], None
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            if loaded_at is not None and time.monotonic() - loaded_at > settle_s:
                break
            try:
                ev = self._events.get(timeout=0.1)
            except queue.Empty:
                continue
            events.append(ev)
            if ev.get("method") == "Page.loadEventFired":
                loaded_at = time.monotonic()
        assert loaded_at is not None, f"{url} did not finish loading"
        return events

    def eval(self, expression: str):
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def offline(self, on: bool = True) -> None:
        """Emulate a viewer with no network (every request but ``file:`` and ``data:`` fails)."""
        self.call("Network.emulateNetworkConditions", {"offline": on, "latency": 0,
                                                       "downloadThroughput": -1,
                                                       "uploadThroughput": -1})

    def before_scripts(self, source: str) -> str:
        """Run ``source`` in every page loaded from now on, before the page's own scripts;
        returns an identifier for :meth:`forget`."""
        return self.call("Page.addScriptToEvaluateOnNewDocument", {"source": source})["identifier"]

    def forget(self, identifier: str) -> None:
        self.call("Page.removeScriptToEvaluateOnNewDocument", {"identifier": identifier})

    def bypass_csp(self, on: bool = True) -> None:
        """Ignore the pages' Content-Security-Policy (to test what it would have blocked)."""
        self.call("Page.setBypassCSP", {"enabled": on})

    def screenshot(self, path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)


def problems(events: list[dict], *, allow: tuple[str, ...] = ()) -> list[str]:
    """Console errors, exceptions, failed loads and non-local requests in ``events``.

    Requests to URLs starting with one of ``allow`` (a map's tile server), their failures and
    the console lines about them are not problems.
    """
    out, allowed = [], set()
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            if allow and url.startswith(allow):
                allowed.add(p.get("requestId"))
            elif not url.startswith(("file:", "data:", "about:")):
                out.append(f"external request: {url}")
        elif method == "Runtime.exceptionThrown":
            out.append(f"exception: {p['exceptionDetails'].get('exception', {}).get('description') or p['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            url = p["entry"].get("url", "")
            if not (allow and url.startswith(allow)):
                out.append(f"log: {p['entry'].get('text')} {url}")
        elif method == "Network.loadingFailed" and p.get("requestId") not in allowed:
            out.append(f"failed load: {p.get('errorText')}")
    return out
