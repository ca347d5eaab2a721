"""docs/deploy.md, followed as written: every ``bash`` block, in order, in one shell, on a
real PostgreSQL, a moto S3 server and a Ray head on loopback. Only the site's names and
secrets (database URL, bucket, keys, folders, addresses, ports) are replaced by the
test's own; then the stores are read directly to check what the team did arrived."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import suppress
from pathlib import Path

import pytest

from tests.services import create_bucket, create_database, free_port, kill_processes_mentioning

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
_BASH = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
SITE_DATABASE = "postgresql+psycopg://steward:s3cret@db.clinic.internal:5432/steward"
SITE_BUCKET = "s3://clinic-steward/blobs"
SITE_OPTIONS = '{"key": "STEWARD-KEY", "secret": "STEWARD-SECRET", "endpoint_url": "https://s3.clinic.internal"}'
SITE_PORTS = ("8081", "8082", "8083", "6380")


def _script(replacements: dict[str, str], ports: dict[str, str]) -> str:
    blocks = _BASH.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 7, "deploy.md lost its steps"
    script = "\n".join(blocks)
    for site, ours in replacements.items():
        assert site in script, f"deploy.md no longer mentions {site!r}"
        script = script.replace(site, ours)
    for site, ours in ports.items():
        script = re.sub(rf"\b{site}\b", ours, script)
    return script


def _shims(folder: Path) -> Path:
    """``steward``, ``python`` and ``ray`` as a user's PATH would have them, from this venv
    and this checkout's source (put first even where a command sets its own PYTHONPATH, as
    the doc's Ray steps do: an installed package would otherwise stand in for it)."""
    import steward

    folder.mkdir()
    source = Path(steward.__file__).resolve().parents[1]
    venv = Path(sys.executable).parent
    commands = {
        "steward": f'exec "{sys.executable}" -m steward.cli "$@"',
        "python": f'exec "{sys.executable}" "$@"',
        "ray": f'exec "{venv / "ray"}" "$@"',
    }
    for name, line in commands.items():
        path = folder / name
        path.write_text(f'#!/bin/sh\nexport PYTHONPATH="{source}:$PYTHONPATH"\n{line}\n')
        path.chmod(0o755)
    return folder


@pytest.mark.slow
def test_the_deploy_doc_works_as_written(
    tmp_path: Path, postgres_url_base: str, s3_options: dict[str, str]
) -> None:
    database = create_database(postgres_url_base)
    bucket = f"s3://{create_bucket(s3_options)}/blobs"
    home = tmp_path / "srv"
    ray_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must be short
    script = _script(
        {
            SITE_DATABASE: database,
            SITE_BUCKET: bucket,
            SITE_OPTIONS: json.dumps(s3_options),
            "/srv/steward": str(home),
            "/tmp/ray-steward": ray_dir,
            "10.0.0.21": "127.0.0.1",
        },
        {port: str(free_port()) for port in SITE_PORTS},
    )
    work = tmp_path / "work"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEWARD_")}
    env["PATH"] = f"{_shims(tmp_path / 'bin')}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
    env["RAY_AUTH_MODE"] = "disabled"
    env["COLUMNS"] = "200"  # tables as wide as the names in them
    shell = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the servers it starts stay in its process group
    )
    try:
        output, _ = shell.communicate(timeout=600)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)
        kill_processes_mentioning(ray_dir)
        shutil.rmtree(ray_dir, ignore_errors=True)
    assert shell.returncode == 0, output[-6000:]
    assert "baseline" in output  # steward runs list
    assert "summary" in output  # steward pipeline list

    from steward.workspace import open_workspace

    stores = open_workspace(home, database, bucket, blob_options=s3_options)
    try:
        users = {user.name: user.role for user in stores.store.auth.list_users()}
        assert users == {"admin": "admin", "alice": "editor", "bob": "approver"}
        [run] = stores.store.tracking.search_runs(["malaria-triage"]).runs
        assert run.created_by == "alice" and run.params == {"C": "1.0"}
        production = stores.store.registry.resolve_alias("triage", "production")
        assert production.version == 1 and production.status.value == "approved"
        [moved] = stores.store.registry.alias_history("triage", "production")
        assert moved.actor == "bob" and moved.reason == "first release"
        [pipeline] = stores.store.pipelines.list_runs("summary")
        assert pipeline.executor == "ray" and pipeline.created_by == "alice"
        assert pipeline.status.value == "FINISHED"
        assert (home / "admin-token").read_text().strip().splitlines()[-1].startswith("stw_")
    finally:
        stores.close()
