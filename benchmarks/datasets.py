"""Dataset versioning: Steward against DVC, side by side, in one run.

Cases: one large random file, many ~50 KB files, a CSV. For each: first add,
re-add unchanged, re-add after a 1% change (the CSV: 1% more rows appended;
the large file: 1% overwritten in the middle; the many files: 1% rewritten),
push to and pull from a local-folder remote, and check out into an empty
folder (by copy, the default of both tools, then by hard link, which both
offer). Floors from the same run: single-thread blake3 over the same bytes
(read from the page cache) and ``cp -r``. Each timed step starts after an
untimed ``sync``, so that no step waits for the previous one's writes. Also
profiles the CSV in a child process and reports its time and peak memory.

DVC is installed into ``.bench/venvs/dvc`` (git-ignored), never into
Steward's environment.

    python benchmarks/datasets.py            # full sizes (1 GiB, 20,000 files, 200 MB CSV)
    python benchmarks/datasets.py --quick    # small sizes, for a smoke run
    python benchmarks/datasets.py --case csv # only the CSV (--case may be repeated)

Each first add also reports the CPU seconds it used (Steward: this process,
all threads; DVC: its child processes): on a machine shared with other
work, CPU time varies less than wall time. Steward's first add is timed as
an API call (``steward.data.add`` in a process with Steward imported), DVC's
as the ``dvc add`` command; the row "first add, as commands" times the same
add as ``steward data add`` in a fresh process, into a store of its own made
beforehand (as ``dvc init`` made DVC's), so that both figures include an
interpreter's start and imports.

Then it checks the targets of issue 11, restated against the durable floor
(Steward keeps its data durable: a version is visible only once its blobs
are on disk): each first add within 1.3x of ``cp -r`` + ``sync`` of the same
bytes and at least 3x faster than DVC's add followed by ``sync``, and the
CSV's first add, profile included, no slower than DVC's add (no profile).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from peers import ensure_venv

ROOT = Path(__file__).resolve().parent.parent
DVC_VERSION = "3.67.1"


@dataclass
class Row:
    case: str
    operation: str
    ours: float
    dvc: float | None
    floor: float | None = None
    floor_name: str = ""
    note: str = ""
    dvc_synced: float | None = None
    """DVC's time plus a ``sync`` right after: DVC made as durable as Steward."""
    durable_floor: float | None = None
    """``cp -r`` followed by ``sync``: the floor for steps that store data durably."""
    cpu: tuple[float, float] | None = None
    """CPU seconds of the step: Steward's (this process), DVC's (its processes)."""


def ensure_dvc() -> Path:
    """The dvc executable in its own venv (created on first use)."""
    return ensure_venv("dvc", [f"dvc=={DVC_VERSION}"]).parent / "dvc"


def timed(action: Callable[[], object]) -> float:
    """Seconds ``action`` takes, started with nothing left to write to disk.

    DVC does not make its writes durable; without the (untimed) ``sync``, the
    next step, of either tool, would wait for the previous step's data.
    """
    os.sync()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) so far: this process's, and its waited-for children's."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def timed_then_synced(action: Callable[[], object]) -> tuple[float, float]:
    """Seconds ``action`` takes, and seconds until its writes are also on disk."""
    os.sync()
    start = time.perf_counter()
    action()
    done = time.perf_counter()
    os.sync()
    return done - start, time.perf_counter() - start


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def blake3_floor(path: Path) -> float:
    """Single-thread blake3 over every file under ``path`` (a second read: page cache)."""
    from blake3 import blake3

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())

    def run() -> None:
        for file in files:
            hasher = blake3()
            with file.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    hasher.update(chunk)
            hasher.digest()

    return timed(run)


def cp_floor(path: Path, work: Path) -> tuple[float, float]:
    """``cp -r`` of ``path``: seconds, and seconds until the copy is on disk."""
    target = work / "cp-floor"
    elapsed = timed_then_synced(
        lambda: subprocess.run(["cp", "-r", str(path), str(target)], check=True)
    )
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    return elapsed


# -- data -------------------------------------------------------------------------


def make_big_file(folder: Path, size: int) -> Path:
    path = folder / "big.bin"
    rng = np.random.default_rng(0)
    with path.open("wb") as handle:
        for _ in range(size // (64 << 20)):
            handle.write(rng.bytes(64 << 20))
        handle.write(rng.bytes(size % (64 << 20)))
    return path


def change_big_file(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(size // 2)
        handle.write(np.random.default_rng(1).bytes(size // 100))


def make_many_files(folder: Path, count: int) -> Path:
    root = folder / "many"
    rng = np.random.default_rng(2)
    for i in range(count):
        sub = root / f"{i % 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i}.bin").write_bytes(rng.bytes(50_000))
    return root


def change_many_files(root: Path) -> None:
    files = sorted(p for p in root.rglob("*.bin"))
    rng = np.random.default_rng(3)
    for path in files[::100]:
        path.write_bytes(rng.bytes(50_000))


def _csv_rows(rng: np.random.Generator, start: int, count: int) -> str:
    ids = np.arange(start, start + count)
    ages = rng.integers(1, 95, count)
    weights = np.round(rng.normal(70, 15, count), 2)
    scores = np.round(rng.random(count), 4)
    sites = rng.choice(np.array(["north", "south", "east", "west", "central"]), count)
    lines = [
        f"{i},{a},{w},{s},{site}"
        for i, a, w, s, site in zip(ids, ages, weights, scores, sites, strict=True)
    ]
    return "\n".join(lines) + "\n"


def make_csv(folder: Path, size: int) -> Path:
    path = folder / "table.csv"
    rng = np.random.default_rng(4)
    rows = 0
    with path.open("w") as handle:
        handle.write("id,age,weight,score,site\n")
        while path.stat().st_size < size:
            handle.write(_csv_rows(rng, rows, 200_000))
            handle.flush()
            rows += 200_000
    return path


def append_csv(path: Path) -> None:
    rows = sum(1 for _ in path.open()) - 1
    with path.open("a") as handle:
        handle.write(_csv_rows(np.random.default_rng(5), rows, max(1, rows // 100)))


# -- the two tools --------------------------------------------------------------


class StewardSide:
    def __init__(self, work: Path) -> None:
        from steward.workspace import open_workspace, use_workspace

        self.work = work
        self.home = work / "steward-home"
        self.workspace = open_workspace(home=self.home, actor="bench")
        use_workspace(self.workspace)
        _ = self.workspace.store  # open and migrate the metadata store before timing
        self.remote = work / "steward-remote"

    def add(self, path: Path) -> object:
        import steward.data

        return steward.data.add("bench", path)

    def push(self) -> None:
        import steward.data

        steward.data.push("bench", str(self.remote))

    def command(self, *args: str) -> None:
        """``steward ARGS`` in a fresh process, on a workspace of its own (as ``dvc``'s repo)."""
        subprocess.run(
            [sys.executable, "-m", "steward.cli", *args],
            env={**os.environ, "STEWARD_HOME": str(self.work / "steward-command-home")},
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def pull_into_empty_store(self) -> float:
        import steward.data
        from steward.workspace import open_workspace, use_workspace

        fresh = open_workspace(
            home=self.home,
            store_url=self.workspace.settings.store_url,
            blob_url=str(self.work / "steward-blobs-2"),
            actor="bench",
        )
        use_workspace(fresh)
        return timed(lambda: steward.data.pull("bench", str(self.remote)))

    def checkout(self, target: Path, link: str = "copy") -> float:
        import steward.data

        version = steward.data.get("bench")
        return timed(lambda: version.checkout(target, link=link))

    def close(self) -> None:
        from steward.workspace import use_workspace

        use_workspace(None)
        self.workspace.close()


class DvcSide:
    def __init__(self, work: Path, dvc: Path) -> None:
        self.dvc = str(dvc)
        self.repo = work / "dvc-repo"
        self.repo.mkdir()
        self.remote = work / "dvc-remote"
        self.run("init", "--no-scm", "-q")
        self.run("remote", "add", "-d", "local", str(self.remote))

    def run(self, *args: str) -> None:
        subprocess.run([self.dvc, *args], cwd=self.repo, check=True, stdout=subprocess.DEVNULL)

    def add(self, name: str) -> None:
        self.run("add", "-q", name)

    def push(self) -> None:
        self.run("push", "-q")

    def pull_into_empty_cache(self) -> tuple[float, float]:
        shutil.rmtree(self.repo / ".dvc" / "cache")
        return timed_then_synced(lambda: self.run("fetch", "-q"))

    def checkout_into_empty(self, name: str, link: str = "copy") -> float:
        """``dvc checkout`` after deleting the data, with cache type ``link``."""
        self.run("config", "cache.type", "reflink,copy" if link == "copy" else link)
        target = self.repo / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
        return timed(lambda: self.run("checkout", "-q"))


# -- one case ---------------------------------------------------------------------


def run_case(
    case: str, make: Callable[[Path], Path], change: Callable[[Path], None], dvc: Path
) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="steward-bench-", dir=os.environ.get("BENCH_TMP")) as t:
        work = Path(t)
        ours = StewardSide(work)
        peer = DvcSide(work, dvc)
        # Each tool works on its own copy, as two teams would: ``dvc add`` replaces
        # the files it adds (moved into its cache and copied back), which would
        # otherwise look like a change to Steward's index of sizes and times.
        theirs = make(peer.repo)
        name = theirs.name
        data = work / "steward-data" / name
        data.parent.mkdir()
        if theirs.is_dir():
            shutil.copytree(theirs, data)
        else:
            shutil.copy2(theirs, data)
        size = folder_size(data) if data.is_dir() else data.stat().st_size
        floor_hash = blake3_floor(data)
        floor_cp, floor_durable = cp_floor(data, work)

        def stores(operation: str, ours_s: float, dvc: tuple[float, float], floor: str) -> Row:
            """A row for a step that stores data (Steward makes it durable, DVC does not)."""
            floor_s = floor_hash if floor == "blake3 1 thread" else floor_cp
            return Row(case, operation, ours_s, dvc[0], floor_s, floor, "", dvc[1], floor_durable)

        try:
            before = cpu_seconds()
            first_ours = timed(lambda: ours.add(data))
            between = cpu_seconds()
            first_dvc = timed_then_synced(lambda: peer.add(name))
            after = cpu_seconds()
            rows.append(stores("first add", first_ours, first_dvc, "blake3 1 thread"))
            rows[-1].cpu = (between[0] - before[0], after[1] - between[1])
            # The same add as a command: Python's start and Steward's imports included,
            # as they are in ``dvc add``'s figure (the row above calls Steward's API).
            ours.command("data", "list")  # creates its store, as ``dvc init`` made DVC's
            listed = cpu_seconds()
            command = timed(lambda: ours.command("data", "add", "bench", str(data)))
            rows.append(Row(case, "first add, as commands", command, first_dvc[0]))
            rows[-1].cpu = (cpu_seconds()[1] - listed[1], after[1] - between[1])
            push_ours = timed(ours.push)
            push_dvc = timed_then_synced(peer.push)
            rows.append(stores("push (local remote)", push_ours, push_dvc, "cp -r"))
            remote_ours, remote_peer = folder_size(ours.remote), folder_size(peer.remote)
            rows.append(
                Row(
                    case,
                    "re-add unchanged",
                    timed(lambda: ours.add(data)),
                    timed(lambda: peer.add(name)),
                )
            )
            change(data)
            change(theirs)
            rows.append(
                Row(
                    case,
                    "re-add after 1% change",
                    timed(lambda: ours.add(data)),
                    timed(lambda: peer.add(name)),
                )
            )
            ours.push()
            peer.push()
            growth_ours = (folder_size(ours.remote) - remote_ours) / size * 100
            growth_peer = (folder_size(peer.remote) - remote_peer) / size * 100
            rows.append(
                Row(
                    case,
                    "remote growth after 1% change (% of data)",
                    growth_ours,
                    growth_peer,
                    note="percent, lower is better",
                )
            )
            pull_ours = ours.pull_into_empty_store()
            pull_dvc = peer.pull_into_empty_cache()
            rows.append(stores("pull into empty store", pull_ours, pull_dvc, "cp -r"))
            # Each tool's two checkouts back to back: DVC's begin by deleting its
            # copy of the data, and on a disk mounted with ``discard`` the trim of
            # those freed blocks slows whatever writes next.
            ours_copy = ours.checkout(work / "checkout")
            ours_linked = ours.checkout(work / "checkout-linked", link="hardlink")
            dvc_copy = peer.checkout_into_empty(name)
            dvc_linked = peer.checkout_into_empty(name, link="hardlink")
            rows.append(
                Row(case, "checkout into empty folder", ours_copy, dvc_copy, floor_cp, "cp -r")
            )
            rows.append(
                Row(
                    case,
                    "checkout, hard links (opt-in)",
                    ours_linked,
                    dvc_linked,
                    floor_cp,
                    "cp -r",
                )
            )
        finally:
            ours.close()
    return rows


_PEAK_RSS_MB = """
def peak_rss_mb():
    # Linux's ru_maxrss keeps the parent's peak across fork and exec (this
    # benchmark's own gigabyte); VmHWM counts only this process's memory.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def watch_private_mb():
    # VmHWM also counts the pages of a memory-mapped file (page cache, shared
    # and reclaimable): sample RssAnon, the process's own memory, for its peak.
    import threading, time
    peak = [0.0]

    def sample():
        while True:
            try:
                with open("/proc/self/status") as status:
                    for line in status:
                        if line.startswith("RssAnon:"):
                            peak[0] = max(peak[0], int(line.split()[1]) / 1024)
            except OSError:
                return
            time.sleep(0.01)

    threading.Thread(target=sample, daemon=True).start()
    return peak
"""


def profile_in_child(csv_size: int) -> tuple[float, float, float, float]:
    """Time, CPU seconds, peak RSS and peak private memory (MB, 0 where unknown) of
    profiling a generated CSV in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="steward-bench-", dir=os.environ.get("BENCH_TMP")) as t:
        path = make_csv(Path(t), csv_size)
        code = _PEAK_RSS_MB + (
            "import sys, time; from pathlib import Path; "
            "from steward.data.profile import profile_csv; private = watch_private_mb(); "
            "start, cpu = time.perf_counter(), time.process_time(); "
            "profile_csv(Path(sys.argv[1])); "
            "elapsed, used = time.perf_counter() - start, time.process_time() - cpu; "
            "print(elapsed, used, peak_rss_mb(), private[0])"
        )
        output = subprocess.run(
            [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
        ).stdout.split()
        return float(output[0]), float(output[1]), float(output[2]), float(output[3])


def print_table(
    rows: list[Row], profile: tuple[float, float, float, float] | None, sizes: dict[str, str]
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Dataset versioning: Steward vs DVC " + DVC_VERSION, header_style="bold")
    for column in (
        "case",
        "operation",
        "Steward",
        "DVC",
        "DVC / Steward",
        "DVC + sync / Steward",
        "floor",
        "Steward / floor",
        "Steward / (cp -r + sync)",
    ):
        table.add_column(column, justify="right" if column not in ("case", "operation") else "left")
    for row in rows:
        is_percent = row.note.startswith("percent")
        unit = "%" if is_percent else " s"
        ratio = (row.dvc / row.ours) if row.dvc is not None and row.ours > 0 else None
        table.add_row(
            f"{row.case} ({sizes[row.case]})",
            row.operation,
            f"{row.ours:.3f}{unit}",
            "-" if row.dvc is None else f"{row.dvc:.3f}{unit}",
            "-" if ratio is None else f"{ratio:.1f}x",
            "-" if row.dvc_synced is None else f"{row.dvc_synced / row.ours:.1f}x",
            "-" if row.floor is None else f"{row.floor:.3f} s ({row.floor_name})",
            "-" if row.floor is None else f"{row.ours / row.floor:.2f}x",
            "-" if row.durable_floor is None else f"{row.ours / row.durable_floor:.2f}x",
        )
    Console(width=200).print(table)
    for row in rows:
        if row.cpu is not None:
            print(
                f"{row.case} ({sizes[row.case]}) {row.operation}, CPU seconds: "
                f"Steward {row.cpu[0]:.2f}, DVC {row.cpu[1]:.2f}"
            )
    if profile is not None:
        print(
            f"profile of the CSV ({sizes['csv']}) in a fresh process: {profile[0]:.2f} s, "
            f"{profile[1]:.2f} CPU seconds, peak memory {profile[2]:.0f} MB, of it private "
            f"{profile[3]:.0f} MB (the rest: pages of the memory-mapped file, page cache)"
        )


CASES = ("big", "many", "csv")
"""The cases ``--case`` picks: one large file, many small files, a CSV."""
FIRST_ADD_OVER_DURABLE_CP_MAX = 1.3
"""Target: a first add takes at most this many times ``cp -r`` + ``sync`` of the same bytes."""
FIRST_ADD_UNDER_DVC_SYNCED_MIN = 3.0
"""Target: DVC's add followed by ``sync`` takes at least this many times Steward's first add."""


def target_rows(rows: list[Row], sizes: dict[str, str]) -> list[tuple[str, str, str, bool]]:
    """The targets of issue 11 (durability kept): (target, case, measured, met) per case."""
    results = []

    def check(target: str, case: str, ratio: float, met: bool, times: tuple[float, float]) -> None:
        results.append((target, case, f"{ratio:.2f}x ({times[0]:.2f} s vs {times[1]:.2f} s)", met))

    for row in rows:
        if row.operation != "first add":
            continue
        case = f"{row.case} ({sizes[row.case]})"
        if row.durable_floor:
            ratio = row.ours / row.durable_floor
            target = f"first add <= {FIRST_ADD_OVER_DURABLE_CP_MAX}x (cp -r + sync)"
            met = ratio <= FIRST_ADD_OVER_DURABLE_CP_MAX
            check(target, case, ratio, met, (row.ours, row.durable_floor))
        if row.dvc_synced:
            ratio = row.dvc_synced / row.ours
            target = f"DVC + sync >= {FIRST_ADD_UNDER_DVC_SYNCED_MIN}x Steward's first add"
            met = ratio >= FIRST_ADD_UNDER_DVC_SYNCED_MIN
            check(target, case, ratio, met, (row.dvc_synced, row.ours))
        if row.case == "csv" and row.dvc:
            target = "DVC's add >= Steward's CSV first add (profile included)"
            check(target, case, row.dvc / row.ours, row.dvc >= row.ours, (row.dvc, row.ours))
    return results


def print_targets(rows: list[Row], sizes: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Targets (issue 11: against the durable floor)", header_style="bold")
    for column in ("target", "case", "measured", "met"):
        table.add_column(column)
    for target, case, measured, met in target_rows(rows, sizes):
        table.add_row(target, case, measured, "yes" if met else "[red]no[/red]")
    Console(width=200).print(table)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument(
        "--case",
        action="append",
        choices=CASES,
        help="run only this case (may be repeated; all cases by default)",
    )
    args = parser.parse_args()
    cases = args.case or list(CASES)
    big = (64 << 20) if args.quick else (1 << 30)
    many = 1000 if args.quick else 20_000
    csv = (20 << 20) if args.quick else (200 << 20)
    sizes = {
        "big file": f"{big >> 20} MiB",
        "many files": f"{many:,} x 50 KB",
        "csv": f"{csv >> 20} MiB",
    }
    dvc = ensure_dvc()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows: list[Row] = []
    if "big" in cases:
        rows += run_case("big file", lambda d: make_big_file(d, big), change_big_file, dvc)
    if "many" in cases:
        rows += run_case("many files", lambda d: make_many_files(d, many), change_many_files, dvc)
    if "csv" in cases:
        rows += run_case("csv", lambda d: make_csv(d, csv), append_csv, dvc)
    print_table(rows, profile_in_child(csv) if "csv" in cases else None, sizes)
    print_targets(rows, sizes)


if __name__ == "__main__":
    main()
