"""`pilotage demo` end to end: generate, import, serve with waitress, log in over HTTP."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def test_demo_serves_the_app_and_the_demo_login_works(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "PILOTAGE_HOME": str(tmp_path), "DATABASE_URL": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "pilotage.cli", "demo", "--port", str(port), "--contacts", "400"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = opener.open(f"{base}/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page)
        assert token is not None
        form = urllib.parse.urlencode(
            {"username": "demo", "password": "demo", "csrfmiddlewaretoken": token.group(1)}
        ).encode()
        request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": base})
        home = opener.open(request)
        page = home.read().decode()
        assert home.status == 200
        assert home.url == f"{base}/dashboard/"
        assert "<h1>Dashboard</h1>" in page
        # The generated company is in the demo database, scored.
        contacts = opener.open(f"{base}/contacts/").read().decode()
        assert re.search(r"c000\d{3}", contacts)
        assert (tmp_path / "demo.db").exists()
        # Served by waitress, a production WSGI server, not Django's runserver.
        assert (
            "waitress" in home.headers.get("Server", "").lower()
            or home.headers.get("Server") == "pilotage"
        )
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in output
    assert "demo" in output
