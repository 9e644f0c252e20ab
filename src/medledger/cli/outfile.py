"""`--out FILE` done safely for every command that writes one: never over an input file (same
resolved path or same inode), never over an existing file without `--force`, never into a
missing directory without `--parents`; checked before the command does anything else (before
a transaction or a logged read), and the file written whole or not at all."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click


def check_out(out: Path, *, force: bool, parents: bool, inputs: Sequence[Path] = ()) -> Path:
    """`out` if it may be written; a one-line UsageError naming the problem and its flag if not."""
    target = out.expanduser()
    for source in inputs:
        source = Path(source).expanduser()
        same = target.resolve() == source.resolve()
        if not same and target.exists() and source.exists():
            same = os.path.samefile(target, source)  # a hard link, or a path through another mount
        if same:
            raise click.UsageError(f"--out {out} is the input file {source}: write to another path")
    if target.is_dir():
        raise click.UsageError(f"--out {out} is a directory: give a file name")
    if (target.exists() or target.is_symlink()) and not force:
        raise click.UsageError(f"--out {out} already exists: pass --force to overwrite it")
    directory = target.parent
    if not directory.is_dir():
        if directory.exists():
            raise click.UsageError(f"--out {out}: {directory} is not a directory")
        if not parents:
            raise click.UsageError(f"--out {out}: directory {directory} does not exist (pass --parents to create it)")
        directory.mkdir(parents=True, exist_ok=True)
    return target


def out_file_options(*, inputs: Sequence[str] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Adds --force and --parents to a command with an `out` parameter and checks `out` (against
    the parameters named in `inputs`, the command's input files) before the command runs."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def wrapper(*args: Any, force: bool, parents: bool, **kwargs: Any) -> Any:
            if kwargs.get("out") is not None:
                sources = [Path(kwargs[name]) for name in inputs if kwargs.get(name) is not None]
                kwargs["out"] = check_out(Path(kwargs["out"]), force=force, parents=parents, inputs=sources)
            return command(*args, **kwargs)

        wrapper = click.option("--parents", is_flag=True, help="Create --out's missing parent directories.")(wrapper)
        return click.option("--force", is_flag=True, help="Overwrite --out if it exists (never an input file).")(
            wrapper
        )

    return decorate


def write_out(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` whole or not at all (a temporary file beside it, then a rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
