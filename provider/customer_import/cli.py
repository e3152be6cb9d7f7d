"""The ``customer-import`` command: validate, preview, profiles export, json-schema."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from customer_import import config
from customer_import.spec.loader import is_spec_document, load_project, yaml_files


def _collect(paths: Sequence[str]) -> tuple[list[Path], list[Path], list[str]]:
    """Split the given files and folders into spec files and database files."""
    specs: list[Path] = []
    databases: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        files = yaml_files(path) if path.is_dir() else [path] if path.is_file() else []
        if not files and not path.exists():
            missing.append(raw)
        for file in files:
            (specs if is_spec_document(file) else databases).append(file)
    return specs, databases, missing


def _nearest_databases_folder(spec: Path) -> Path | None:
    """The ``profile_databases`` folder nearest to a spec file, looking up from its folder.

    ``include/import_specs/x.yaml`` finds ``include/profile_databases/``; a spec one folder deeper
    (``tests/corpus/specs/valid/x.yaml``) finds ``tests/corpus/profile_databases/``.
    """
    for folder in spec.resolve().parents:
        candidate = folder / "profile_databases"
        if candidate.is_dir():
            return candidate
    return None


def _with_databases(specs: Sequence[Path], databases: Sequence[Path]) -> list[Path]:
    """The given database files, then those of the configured folder and of each spec's nearest
    ``profile_databases`` folder, each file once."""
    out = list(databases)
    known = {p.resolve() for p in out}
    folders = [config.databases_folder(), *filter(None, (_nearest_databases_folder(s) for s in specs))]
    for folder in folders:
        for path in yaml_files(folder):
            if path.resolve() not in known:
                known.add(path.resolve())
                out.append(path)
    return out


def cmd_validate(args: argparse.Namespace) -> int:
    if args.paths:
        specs, databases, missing = _collect(args.paths)
    else:
        specs, databases, missing = yaml_files(config.specs_folder()), [], []
    databases = _with_databases(specs, databases)
    for raw in missing:
        print(f"{raw}: no such file or folder", file=sys.stderr)
    project = load_project(specs, databases, root=Path.cwd())
    for problem in sorted(project.problems, key=lambda p: (p.file, p.line or 0)):
        print(problem, file=sys.stderr)
    for warning in sorted(project.warnings, key=lambda p: (p.file, p.line or 0)):
        print(f"warning: {warning}", file=sys.stderr)
    ok = not project.problems and not missing
    print(
        f"{'OK' if ok else 'FAILED'}: {len(project.specs)} valid spec(s), {len(project.databases)} profile "
        f"database(s), {len(project.problems) + len(missing)} problem(s)"
    )
    return 0 if ok else 1


@contextmanager
def _logs_to_stderr() -> Iterator[TextIO]:
    """Airflow's loggers write to standard output: send them to standard error meanwhile, and yield the
    real standard output for the command's own result (JSON must not be mixed with log lines)."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        yield out
    finally:
        out.flush()
        sys.stdout.flush()
        os.dup2(out.fileno(), 1)
        out.close()


def cmd_preview(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from customer_import.preview import PreviewError, format_preview, preview

    spec_path = Path(args.spec)
    if not spec_path.is_file():
        print(f"{args.spec}: no such file", file=sys.stderr)
        return 1
    project = load_project([spec_path], _with_databases([spec_path], []), root=Path.cwd())
    if project.problems or not project.specs:
        for problem in project.problems:
            print(problem, file=sys.stderr)
        return 1
    loaded = next(iter(project.specs.values()))
    with _logs_to_stderr() as out:
        try:
            database = project.databases[loaded.model.target.database].model
            result = preview(loaded.model, database, limit=args.rows)
        except PreviewError as error:  # the source failed: one line, no traceback
            print(f"customer-import preview {loaded.model.name}: {error}", file=sys.stderr)
            return 1
        if args.json:
            out.write(json.dumps(asdict(result), default=str, ensure_ascii=False, indent=2) + "\n")
        else:
            out.write(format_preview(result) + "\n")
    return 0


def cmd_json_schema(args: argparse.Namespace) -> int:
    from customer_import.spec.schema import spec_json_schema

    print(json.dumps(spec_json_schema(args.kind), indent=2))
    return 0


def cmd_profiles_export(args: argparse.Namespace) -> int:
    from customer_import.store.connection import open_store
    from customer_import.store.export import iter_profiles

    with _logs_to_stderr() as out, open_store(args.conn_id) as (dialect, connection):
        try:
            for profile in iter_profiles(dialect, connection, args.database):
                out.write(json.dumps(profile, ensure_ascii=False, default=str) + "\n")
        except LookupError as exc:
            print(f"note: {exc}; nothing to export", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="customer-import", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check specs and profile-database definitions")
    validate.add_argument(
        "paths", nargs="*", help="spec / database files or folders (default: the specs folder)"
    )
    validate.set_defaults(func=cmd_validate)
    show = commands.add_parser(
        "preview", help="run a spec's query once (read-only) and show what the mapping makes of it"
    )
    show.add_argument("spec", help="the spec file")
    show.add_argument("--rows", type=int, default=1, help="rows to read (the first one is shown; default 1)")
    show.add_argument("--json", action="store_true", help="print the preview as JSON")
    show.set_defaults(func=cmd_preview)
    schema = commands.add_parser("json-schema", help="print the JSON Schema of the import spec")
    schema.add_argument("--kind", choices=["spec", "database"], default="spec")
    schema.set_defaults(func=cmd_json_schema)
    profiles = commands.add_parser("profiles", help="stored profiles")
    profile_commands = profiles.add_subparsers(dest="profiles_command", required=True)
    export = profile_commands.add_parser("export", help="every stored profile as one JSON object per line")
    export.add_argument("--database", required=True, help="profile database name")
    export.add_argument(
        "--conn-id", default="profile_store_default", help="store connection (default: %(default)s)"
    )
    export.set_defaults(func=cmd_profiles_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
