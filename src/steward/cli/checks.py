"""``steward checks suggest|run|history``."""

from __future__ import annotations

from pathlib import Path

import typer

from steward.cli.output import JSON_HELP, console, print_json, print_table

app = typer.Typer(
    help="Data and model checks, with results kept per version.", no_args_is_help=True
)


@app.command("suggest")
def suggest(
    dataset: str = typer.Argument(..., help="DATASET or DATASET:VERSION to infer a suite from."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the suite here (.yaml/.json)."),
) -> None:
    """Draft a data suite from a version's stored profile (no data is read)."""
    from steward.checks import dump_suite, suggest_suite

    suite = suggest_suite(dataset)
    if output is None:
        typer.echo(dump_suite(suite, yaml=True), nl=False)
        return
    suite.save(output)
    console.print(f"wrote a suite of {len(suite.spec.columns)} columns to {output}; review it")


def _print_results(title: str, results: list[dict[str, object]]) -> None:
    rows = []
    for result in results:
        mark = (
            "pass" if result["passed"] else ("warn" if result["severity"] == "warning" else "FAIL")
        )
        details = result.get("details") or {}
        note = ""
        if isinstance(details, dict):
            failing = details.get("failing")
            note = f"{failing} failing rows" if failing else ""
            if details.get("notes"):
                note = "; ".join(str(n) for n in details["notes"])
        rows.append([mark, result["name"], result["value"], result["threshold"], note])
    print_table(title, ["", "check", "value", "threshold", "notes"], rows)


@app.command("run")
def run(
    suite: Path = typer.Argument(..., help="The suite file (YAML or JSON)."),
    dataset: str = typer.Argument(..., help="DATASET or DATASET:VERSION (or :ALIAS)."),
    save: bool = typer.Option(True, "--save/--no-save", help="Store the results with the version."),
    trust_code: bool = typer.Option(
        False, "--trust-code", help="Allow the suite's custom functions (imports code it names)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Run a data suite on a dataset version; exit 1 if a check fails."""
    from steward.checks import load_suite, run_suite

    loaded = load_suite(suite, trust_code=trust_code)
    report, stored = run_suite(loaded, dataset, save=save)
    data = report.to_dict()
    if stored is not None:
        data["stored_as"] = stored.id
    if as_json:
        print_json(data)
    else:
        _print_results(f"{loaded.name} on {report.subject}", data["results"])
        verdict = "[green]passed[/green]" if report.passed else "[bold red]FAILED[/bold red]"
        console.print(f"{verdict}: {len(report.failed)} of {len(report.results)} checks failed")
    if not report.passed:
        raise typer.Exit(1)


@app.command("history")
def history(
    dataset: str = typer.Option(None, "--dataset", "-d", help="DATASET:VERSION."),
    model: str = typer.Option(None, "--model", "-m", help="NAME/VERSION or NAME@ALIAS."),
    limit: int = typer.Option(20, "--limit", "-n", help="At most this many runs."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Stored check runs of a dataset version or a model version, newest first."""
    from steward.checks import check_history
    from steward.errors import InvalidInput

    if dataset is None and model is None:
        raise InvalidInput("name a --dataset NAME:VERSION or a --model NAME/VERSION.")
    runs = check_history(dataset=dataset, model=model, limit=limit)
    if as_json:
        print_json([run.to_dict() for run in runs])
        return
    print_table(
        "Check runs",
        ["id", "suite", "dataset", "model", "passed", "failed", "when", "by"],
        [
            [
                r.id[:12],
                r.suite,
                r.dataset,
                r.model,
                r.passed,
                f"{r.failed_count}/{r.check_count}",
                r.created_at,
                r.created_by,
            ]
            for r in runs
        ],
    )
