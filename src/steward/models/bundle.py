"""Bundles: a self-contained folder to build and serve a model anywhere.

Layout: ``model/`` (the model files and ``steward-model.json``),
``requirements.lock``, a ``Dockerfile`` (slim Python of the recorded
version, installs the lock and Steward with its serving extra, runs
``steward serve`` on the bundle), ``bundle.json`` (which also says, as
``pip_install``, what to install) and a ``README.md``.

Bundling re-verifies the version's stored content, and every value of the
environment lock is checked against its grammar before it reaches the
Dockerfile or the lock file (``EnvironmentLock.check``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from steward.errors import Conflict
from steward.models.environment import LOCK_FILE, SELF_DISTRIBUTION, EnvironmentLock

MODEL_DIR = "model"
BUNDLE_FILE = "bundle.json"
SERVE_EXTRA = "serve"

_DOCKERFILE = """\
FROM python:{python_version}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /bundle
COPY {lock} /bundle/{lock}
RUN pip install --no-cache-dir -r /bundle/{lock} "{steward}"
COPY . /bundle
EXPOSE 8080
CMD ["steward", "serve", "/bundle", "--host", "0.0.0.0", "--port", "8080"]
"""

_README = """\
# {name} v{version} ({alias_note}) — Steward model bundle

A self-contained package of one model version: its files (digest-checked on
load), the exact environment it was logged in, and a container recipe.

- Flavor: {flavor}
- Python: {python_version}
- Source: {uri} (run {run_id})

## Run with Docker

    docker build -t {image} .
    docker run -p 8080:8080 {image}

## Run without Docker

    python{python_short} -m venv .venv
    .venv/bin/pip install -r {lock} "{steward}"
    .venv/bin/steward serve . --port 8080

(`bundle.json` holds the same install arguments as `pip_install`.)

## Use from Python (no store needed)

    import steward.models
    model = steward.models.load_bundle(".")
    model.predict(records)

Check an environment against the lock with `steward models env-check --bundle .`.
"""


def steward_requirement(lock: EnvironmentLock) -> str:
    """The requirement that installs Steward able to serve: ``mlsteward[serve]==X``."""
    name = f"{SELF_DISTRIBUTION}[{SERVE_EXTRA}]"
    return f"{name}=={lock.steward_version}" if lock.steward_version else name


def bundle(uri: str, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write the bundle of a registered version (``models:/name@alias`` or ``name/3``).

    Raises:
        Conflict: ``out`` exists and is not empty (pass ``overwrite=True``).
        IntegrityError: the version's stored content no longer verifies.
        InvalidInput: a value of its environment lock does not fit its grammar.
    """
    from steward.models.package import verify_files
    from steward.models.registry import resolve
    from steward.models.stored import verify_stored
    from steward.models.uri import parse_model_uri
    from steward.workspace import current_workspace

    target = Path(out)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise Conflict(f"{target} is not empty; choose another --out or pass --overwrite.")
    version = resolve(uri)
    workspace = current_workspace()
    if workspace.settings.remote:  # the server re-reads its own store; our copy cannot vouch
        served: Any = workspace.store.registry
        served.verify_version(version.name, version.version, "bundle")
    folder, metadata = verify_stored(workspace, version, "bundle")
    env = metadata.environment.check()
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(folder, target / MODEL_DIR)
    verify_files(target / MODEL_DIR, metadata)
    (target / LOCK_FILE).write_text(env.lock_text())
    steward = steward_requirement(env)
    (target / "Dockerfile").write_text(
        _DOCKERFILE.format(python_version=env.python_version, lock=LOCK_FILE, steward=steward)
    )
    parsed = parse_model_uri(uri, allow_short=True)
    (target / "README.md").write_text(
        _README.format(
            name=version.name,
            version=version.version,
            alias_note=f"alias {parsed.alias}" if parsed.alias else "pinned version",
            flavor=metadata.flavor,
            python_version=env.python_version,
            python_short=".".join(env.python_version.split(".")[:2]),
            uri=uri,
            run_id=version.run_id,
            image=f"{version.name.lower()}:{version.version}",
            lock=LOCK_FILE,
            steward=steward,
        )
    )
    (target / BUNDLE_FILE).write_text(
        json.dumps(
            {
                "name": version.name,
                "version": version.version,
                "source": uri,
                "run_id": version.run_id,
                "metadata_digest": version.metadata_digest,
                "flavor": metadata.flavor,
                "pip_install": ["-r", LOCK_FILE, steward],
            },
            indent=2,
            sort_keys=True,
        )
    )
    return target
