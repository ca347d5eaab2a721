"""``steward server`` as a user starts it: one command, a bootstrap token on the console,
then the CLI and SDK work through it with STEWARD_URI and STEWARD_TOKEN."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.services import steward_server


def _steward(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("STEWARD_")}
    return subprocess.run(
        [sys.executable, "-m", "steward.cli", *args],
        env={**clean, "COLUMNS": "200", **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_one_command_serves_a_fresh_install_and_the_cli_works_through_it(tmp_path: Path) -> None:
    with steward_server(tmp_path / "home") as server:
        log = (tmp_path / "home-server.log").read_text()
        assert server.admin_token and "shown once" in log
        admin = {
            "STEWARD_URI": server.url,
            "STEWARD_TOKEN": server.admin_token,
            "STEWARD_HOME": str(tmp_path / "client"),
        }
        added = _steward(admin, "server", "users", "add", "alice", "--role", "editor")
        assert added.returncode == 0, added.stderr
        made = _steward(admin, "server", "tokens", "create", "alice", "--name", "laptop")
        assert made.returncode == 0, made.stderr
        alice_token = made.stdout.strip().splitlines()[-1]
        assert alice_token.startswith("stw_")
        alice = {**admin, "STEWARD_TOKEN": alice_token}
        listed = _steward(alice, "server", "users", "list")
        assert listed.returncode == 1
        assert "needs the admin role" in listed.stderr and "Traceback" not in listed.stderr
        created = _steward(alice, "experiments", "create", "malaria")
        assert created.returncode == 0, created.stderr
        script = (
            "import steward\n"
            "steward.set_experiment('malaria')\n"
            "with steward.start_run(name='remote') as run:\n"
            "    steward.log_params({'depth': 3})\n"
            "    [steward.log_metric('loss', 1 / (i + 1)) for i in range(100)]\n"
            "print(run.id)\n"
        )
        clean = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
        run = subprocess.run(
            [sys.executable, "-c", script],
            env={**clean, **alice},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        runs = _steward(alice, "runs", "list", "-e", "malaria", "--json")
        assert runs.returncode == 0, runs.stderr
        assert '"created_by": "alice"' in runs.stdout and '"depth": "3"' in runs.stdout
        tokens = _steward(admin, "server", "tokens", "list", "--json")
        assert alice_token not in tokens.stdout and "laptop" in tokens.stdout
        no_token = _steward({**admin, "STEWARD_TOKEN": ""}, "experiments", "list")
        assert no_token.returncode == 1 and "token" in no_token.stderr
        openapi = httpx.get(server.url + "/api/v1/openapi.json").json()
        assert "/api/v1/runs/{run_id}" in openapi["paths"]


@pytest.mark.slow
def test_a_restart_keeps_users_and_prints_no_new_secret(tmp_path: Path) -> None:
    with steward_server(tmp_path / "home") as first:
        token = first.admin_token
    with steward_server(tmp_path / "home") as second:
        assert second.admin_token == ""
        answer = httpx.get(
            second.url + "/api/v1/users", headers={"authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200


def test_users_are_managed_locally_on_the_servers_host(tmp_path: Path) -> None:
    home = {"STEWARD_HOME": str(tmp_path / "home")}
    added = _steward(
        home,
        "server",
        "users",
        "add",
        "bob",
        "--role",
        "viewer",
        "--password",
        stdin="a long enough secret\na long enough secret\n",
    )
    assert added.returncode == 0, added.stderr
    refused = _steward(home, "server", "users", "add", "eve", "--role", "owner")
    assert refused.returncode == 1 and "unknown role 'owner'" in refused.stderr
    listed = _steward(home, "server", "users", "list", "--json")
    assert '"has_password": true' in listed.stdout and "scrypt" not in listed.stdout


@pytest.mark.slow
def test_ready_quickly_and_small_when_idle(tmp_path: Path) -> None:
    with steward_server(tmp_path / "warm"):
        pass  # a migrated store, as on every start after the first
    started = time.monotonic()
    with steward_server(tmp_path / "warm") as server:
        ready_s = time.monotonic() - started
        stat = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ready_cpu_s = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        time.sleep(1)
        status = Path(f"/proc/{server.process.pid}/status").read_text()
        rss_mb = (
            int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
            / 1024
        )
        # Compiled libraries the server never needs to answer: mapped only if imported.
        mapped = Path(f"/proc/{server.process.pid}/maps").read_text()
    print(f"ready in {ready_s:.2f} s ({ready_cpu_s:.2f} CPU-s), idle RSS {rss_mb:.0f} MB")
    for heavy in ("numpy", "pandas", "sklearn", "pyarrow", "scipy"):
        assert f"/{heavy}/" not in mapped, f"the idle server imported {heavy}"
    assert rss_mb < 150
    # Start-up work, whatever else the machine runs (about 1.1 CPU-s, bytecode compiled
    # or not); the wall time is bounded loosely, more so on a machine busy with others.
    assert ready_cpu_s < 2.5
    busy = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert ready_s < 10 * busy  # 2 s on a quiet machine; shared CI runners are slower


def test_a_server_at_head_loads_only_what_serving_needs(tmp_path: Path) -> None:
    """Start-up cost: on a SQLite store already at the schema head, building the app
    imports neither the data-science stack, nor Alembic, nor the PostgreSQL dialect."""
    heavy = ("numpy", "pandas", "sklearn", "pyarrow", "alembic", "sqlalchemy.dialects.postgresql")
    code = (
        "import sys\n"
        "from steward.server.app import create_app\n"
        "from steward.server.run import open_server_workspace\n"
        f"create_app(open_server_workspace({str(tmp_path / 'home')!r}))\n"
        f"print(','.join(name for name in {heavy!r} if name in sys.modules))\n"
    )
    clean = {key: value for key, value in os.environ.items() if not key.startswith("STEWARD_")}
    loaded = []
    for _ in range(2):  # the first start makes the store, the second finds it at head
        done = subprocess.run(
            [sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        loaded.append(done.stdout.strip())
    assert loaded[1] == "", f"a server at head imported {loaded[1]}"
