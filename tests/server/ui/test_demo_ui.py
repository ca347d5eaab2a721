"""``steward demo --ui`` ends by printing the web UI's address and a way in; that
page answers 200 with a session and shows what the demo made; Ctrl-C stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.services import free_port, wait_until


@pytest.mark.slow
def test_demo_ui_prints_a_url_that_answers_with_a_session(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "STEWARD_HOME": str(tmp_path / "home"), "COLUMNS": "250"}
    env.pop("STEWARD_URI", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "steward.cli", "demo", "--ui", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        deadline, line = time.monotonic() + 240, ""
        while "web UI:" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line or process.poll() is None, "the demo ended without serving the UI"
        found = re.search(r"web UI: (\S+)\s+\(sign in as '(\w+)' with password (\S+);", line)
        assert found, line
        url, user, password = found.groups()
        assert url == f"http://127.0.0.1:{port}/ui/"

        def up() -> bool:
            try:
                return httpx.get(url, timeout=1).status_code == 303  # to the sign-in form
            except httpx.TransportError:
                return False

        assert wait_until(up, timeout=30)
        with httpx.Client(timeout=10) as browser:
            signed = browser.post(
                url + "login", data={"username": user, "password": password, "next": "/ui/"}
            )
            assert signed.status_code == 303
            page = browser.get(url)
        assert page.status_code == 200
        assert "breast-cancer-diagnosis" in page.text and "breast-cancer-classifier" in page.text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
