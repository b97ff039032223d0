"""``instructforge data list | get | path | verify``: the papers' seeds and benchmarks by name
(instructforge.data.datasets: the registry, the cache and the checks)."""

from __future__ import annotations

import json

import click

from ..core import ui
from ..core.errors import InputError

_FROM = click.option(
    "--from",
    "source",
    default=None,
    metavar="DIR_OR_URL",
    help="Read from a mirror laid out as <root>/<owner>/<repo>/<commit>/<path> (a folder or an "
    "http(s) URL; default $INSTRUCTFORGE_DATA_MIRROR, else GitHub's raw file host).",
)


@click.group()
def data() -> None:
    """Named public datasets (the papers' seeds and benchmarks): list, fetch, locate, verify.

    Every command that reads these files takes the name too, e.g.
    instructforge evaluate superni --tasks superni-test ...
    """


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
def list_cmd(as_json: bool) -> None:
    """Every dataset: its upstream repository and commit, how its files are checked, whether cached."""
    from ..api.data import data_dir, listing

    rows = listing()
    if as_json:
        keys = ("name", "description", "license", "source", "files", "cached")
        click.echo(json.dumps([{k: r[k] for k in keys} for r in rows], indent=2))
        return
    ui.show(
        ui.table(
            f"datasets (cache: {data_dir()})",
            ["name", "cached", "sha256", "source", "license"],
            [
                [
                    r["name"],
                    f"{r['files_cached']}/{len(r['files'])} files",
                    _integrity(r["pinned"], len(r["files"])),
                    f"{r['source']['repo']}@{r['source']['commit'][:7]}",
                    r["license"],
                ]
                for r in rows
            ],
        )
    )


def _integrity(pinned: int, total: int) -> str:
    if pinned == total:
        return "pinned"
    if pinned == 0:
        return "recorded on first fetch"
    return f"{pinned} pinned, {total - pinned} on first fetch"


@data.command("get")
@click.argument("names", nargs=-1, required=True)
@_FROM
def get_cmd(names: tuple[str, ...], source: str | None) -> None:
    """Fetch NAME... into the cache (skipping files already there) and check every file's sha256."""
    from ..api.data import dataset_path, get

    for n in names:
        get(n)  # every name known before anything is fetched
    for n in names:
        path = dataset_path(n, source=source)
        click.echo(f"{n}: {path}")


@data.command("path")
@click.argument("name")
@_FROM
def path_cmd(name: str, source: str | None) -> None:
    """Print the local path of NAME (what commands read), fetching it first if it is not cached."""
    from ..api.data import dataset_path

    click.echo(str(dataset_path(name, source=source, progress=False)))


@data.command("verify")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one row per file as JSON.")
def verify_cmd(names: tuple[str, ...], as_json: bool) -> None:
    """Recheck the sha256 of every cached file (of NAME..., else of every dataset); exit 2 on a mismatch."""
    from ..api.data import get, verify

    for n in names:
        get(n)
    rows = verify(names or None)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    bad = [r for r in rows if r["status"] == "mismatch"]
    by: dict[str, list[int]] = {}
    for r in rows:
        c = by.setdefault(r["dataset"], [0, 0, 0])
        c[["ok", "missing", "mismatch"].index(r["status"])] += 1
    if not as_json:
        ui.show(ui.table("verify", ["dataset", "ok", "not cached", "mismatch"], [[k, *v] for k, v in by.items()]))
    empty = [n for n in names if by[n][1] == sum(by[n])]
    if bad:
        r = bad[0]
        raise InputError(
            f"{r['file']}: sha256 {r['actual']} differs from the expected {r['expected']} "
            f"({len(bad)} file(s) differ; delete them and run `instructforge data get {r['dataset']}` to fetch them again)"
        )
    if empty:
        raise InputError(f"{empty[0]}: not cached (run `instructforge data get {empty[0]}`)")
    if not as_json:
        click.echo(f"{sum(v[0] for v in by.values())} cached files match their sha256")


__all__ = ["data"]
