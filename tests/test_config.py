"""Who writes: the user name recorded as the author of writes."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys

import pytest

from steward.config import current_user


@pytest.mark.parametrize("login", [None, "LOGNAME", "USER", "USERNAME"])
def test_the_author_is_the_login_name_as_getpass_finds_it(
    monkeypatch: pytest.MonkeyPatch, login: str | None
) -> None:
    monkeypatch.delenv("STEWARD_USER", raising=False)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    if login is not None:
        monkeypatch.setenv(login, f"from-{login.lower()}")
    assert current_user() == getpass.getuser()
    monkeypatch.setenv("STEWARD_USER", "explicit")
    assert current_user() == "explicit"


def test_finding_the_author_loads_no_terminal_module() -> None:
    probe = "import sys; from steward.config import current_user; current_user(); " \
            "print('getpass' in sys.modules, 'termios' in sys.modules)"  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("STEWARD_USER", "LOGNAME", "USER")}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]
