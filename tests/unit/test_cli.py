"""The ``customer-import`` console script, run for real in a subprocess from the project folder.

``profiles export`` needs a store and is tested elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("customer-import")
CORPUS = REPO / "tests" / "corpus"
CORPUS_DATABASES = CORPUS / "profile_databases"
EXAMPLE_SPECS = sorted((REPO / "include" / "import_specs").glob("*.yaml"))
PROBLEM_LINE = re.compile(
    r"^(?P<file>[^:\s]+):(?P<line>\d+): (?P<path>\(top level\)|\(syntax\)|\S+): (?P<message>.+)$"
)
EXPECT = re.compile(r"^# expect: (?P<line>\d+) (?P<path>\(top level\)|\S+) (?P<message>.+)$")
# The top-level keys of the import spec in PRODUCT.md ("The import spec (contract)").
SPEC_KEYS = {
    "name",
    "description",
    "access_groups",
    "labels",
    "run_immediately",
    "target",
    "schedule",
    "source",
    "prevent_duplication",
    "mapping",
    "reports",
    "subscriptions",
}


def run(
    *args: str, databases_folder: str | Path | None = None, home: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__CUSTOMER_IMPORT__")}
    env["AIRFLOW_HOME"] = str(home)
    if databases_folder is not None:
        env["AIRFLOW__CUSTOMER_IMPORT__DATABASES_FOLDER"] = str(databases_folder)
    return subprocess.run(
        [str(SCRIPT), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("airflow-home")


@pytest.fixture
def empty_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "no_databases_here"
    folder.mkdir()
    return folder


def test_the_console_script_is_installed() -> None:
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: is the package installed in this venv?"


# --- validate -------------------------------------------------------------------------------------------


def test_validate_the_example_specs(home: Path) -> None:
    result = run("validate", "include/import_specs", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: {len(EXAMPLE_SPECS)} valid spec(s), ")
    assert "0 problem(s)" in result.stdout
    assert not [line for line in result.stderr.splitlines() if PROBLEM_LINE.match(line)]


def _corpus_expectations(folder: Path) -> dict[str, list[tuple[int, str, str]]]:
    expected: dict[str, list[tuple[int, str, str]]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for text in path.read_text(encoding="utf-8").splitlines():
            if match := EXPECT.match(text):
                key = str(path.relative_to(REPO))
                expected.setdefault(key, []).append((int(match["line"]), match["path"], match["message"]))
    return expected


@pytest.fixture(scope="module")
def invalid_run(home: Path) -> subprocess.CompletedProcess[str]:
    return run(
        "validate", "tests/corpus/specs/invalid", databases_folder="tests/corpus/profile_databases", home=home
    )


def test_validate_the_invalid_corpus_fails(invalid_run: subprocess.CompletedProcess[str]) -> None:
    assert invalid_run.returncode == 1
    assert invalid_run.stdout.startswith("FAILED: ")


def test_validate_prints_one_located_line_per_problem(invalid_run: subprocess.CompletedProcess[str]) -> None:
    lines = invalid_run.stderr.splitlines()
    assert lines
    assert [line for line in lines if not PROBLEM_LINE.match(line)] == []
    problems = [PROBLEM_LINE.match(line) for line in lines]
    assert {m["file"] for m in problems if m} >= {"tests/corpus/specs/invalid/bad_mode.yaml"}
    count = re.search(r"(\d+) problem\(s\)", invalid_run.stdout)
    assert count is not None and int(count.group(1)) == len(lines)


def test_validate_reports_every_corpus_expectation(invalid_run: subprocess.CompletedProcess[str]) -> None:
    lines = [m for m in map(PROBLEM_LINE.match, invalid_run.stderr.splitlines()) if m]
    expected = _corpus_expectations(CORPUS / "specs" / "invalid")
    # duplicate_name.yaml reuses the name of valid/once_at.yaml, which this run does not include.
    pair = expected.pop("tests/corpus/specs/invalid/duplicate_name.yaml")
    assert any("already used by" in message for _, _, message in pair)
    assert not [m for m in lines if m["file"] == "tests/corpus/specs/invalid/duplicate_name.yaml"]
    missing = [
        f"{file}:{line}: {path}: ...{message}"
        for file, wanted in expected.items()
        for line, path, message in wanted
        if not any(
            m["file"] == file and int(m["line"]) == line and m["path"] == path and message in m["message"]
            for m in lines
        )
    ]
    assert missing == []
    assert len(lines) == sum(len(wanted) for wanted in expected.values())


def test_validate_a_spec_with_the_name_of_another(home: Path) -> None:
    result = run(
        "validate",
        "tests/corpus/specs/valid/once_at.yaml",
        "tests/corpus/specs/invalid/duplicate_name.yaml",
        home=home,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "tests/corpus/specs/invalid/duplicate_name.yaml:4: name: import name 'once_at' is already used by "
        "tests/corpus/specs/valid/once_at.yaml"
    ]


def _copy_spec(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return Path(shutil.copy(CORPUS / "specs" / "valid" / "once_at.yaml", folder / "once_at.yaml"))


def test_validate_one_spec_finds_the_sibling_databases_folder(
    home: Path, tmp_path: Path, empty_folder: Path
) -> None:
    spec = _copy_spec(tmp_path / "project" / "import_specs")
    (tmp_path / "project" / "profile_databases").mkdir()
    shutil.copy(CORPUS_DATABASES / "corpus_shop.yaml", tmp_path / "project" / "profile_databases")
    result = run("validate", str(spec), databases_folder=empty_folder, home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 1 valid spec(s), 1 profile database(s), 0 problem(s)")


def test_validate_one_spec_of_the_corpus_finds_its_databases(home: Path, empty_folder: Path) -> None:
    # tests/corpus/specs/valid/x.yaml: the nearest profile_databases folder is tests/corpus/profile_databases.
    result = run(
        "validate", "tests/corpus/specs/valid/once_at.yaml", databases_folder=empty_folder, home=home
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 1 valid spec(s), 1 profile database(s)")


def test_validate_one_spec_uses_the_configured_databases_folder(home: Path, tmp_path: Path) -> None:
    spec = _copy_spec(tmp_path / "alone")
    result = run("validate", str(spec), databases_folder="tests/corpus/profile_databases", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 1 valid spec(s), 1 profile database(s), 0 problem(s)")


def test_validate_one_spec_without_its_database_fails(home: Path, tmp_path: Path, empty_folder: Path) -> None:
    spec = _copy_spec(tmp_path / "alone")
    result = run("validate", str(spec), databases_folder=empty_folder, home=home)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{spec}:4: target.database: profile database 'corpus_shop' is not defined (known: none found)"
    ]


def test_validate_a_missing_path_fails(home: Path) -> None:
    result = run("validate", "include/no_such_folder", home=home)
    assert result.returncode == 1
    assert "include/no_such_folder: no such file or folder" in result.stderr


# --- json-schema ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec_schema(home: Path) -> dict[str, Any]:
    result = run("json-schema", home=home)
    assert result.returncode == 0, result.stderr
    schema: dict[str, Any] = json.loads(result.stdout)
    return schema


def _properties(schema: dict[str, Any], node: dict[str, Any]) -> set[str]:
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return set(node.get("properties", {}))


def test_json_schema_is_a_valid_schema(spec_schema: dict[str, Any]) -> None:
    assert spec_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(spec_schema)


def test_json_schema_has_every_key_of_the_spec(spec_schema: dict[str, Any]) -> None:
    properties = spec_schema["properties"]
    assert set(properties) >= SPEC_KEYS
    assert set(spec_schema["required"]) >= {"name", "target", "source", "mapping"}
    assert spec_schema["additionalProperties"] is False
    assert _properties(spec_schema, properties["target"]) >= {
        "database",
        "mode",
        "matching",
        "ip_location",
        "suppress_triggers",
    }
    assert _properties(spec_schema, properties["source"]) >= {"conn_id", "table", "query", "cursor", "drain"}
    assert _properties(spec_schema, properties["prevent_duplication"]) >= {
        "skip_unchanged",
        "duplicate_keys",
        "keep_existing_on_empty",
    }
    assert _properties(spec_schema, properties["reports"]) >= {"max_error_rate", "mask_contacts"}


def _as_an_editor_reads(path: Path) -> Any:
    """The YAML data as JSON (an editor validates YAML text; dates are strings there)."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_json_schema_accepts_the_example_specs(spec_schema: dict[str, Any], path: Path) -> None:
    validator = jsonschema.Draft202012Validator(spec_schema)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize("path", sorted((CORPUS / "specs" / "valid").glob("*.yaml")), ids=lambda p: p.name)
def test_json_schema_accepts_the_valid_corpus(spec_schema: dict[str, Any], path: Path) -> None:
    validator = jsonschema.Draft202012Validator(spec_schema)
    assert [e.message for e in validator.iter_errors(_as_an_editor_reads(path))] == []


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("unknown_key_typo.yaml", "'mathcing' was unexpected"),
        ("bad_mode.yaml", "'merge' is not one of"),
        ("max_error_rate_too_high.yaml", "1.5 is greater than the maximum of 1"),
        ("unknown_plan.yaml", "hourly"),
    ],
)
def test_json_schema_rejects_what_the_spec_rejects(
    spec_schema: dict[str, Any], name: str, problem: str
) -> None:
    validator = jsonschema.Draft202012Validator(spec_schema)
    errors = list(validator.iter_errors(_as_an_editor_reads(CORPUS / "specs" / "invalid" / name)))
    assert errors
    messages = [e.message for e in errors] + [c.message for e in errors for c in (e.context or [])]
    assert any(problem in m for m in messages), messages


def test_json_schema_of_the_profile_database(home: Path) -> None:
    result = run("json-schema", "--kind", "database", home=home)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert set(schema["properties"]) >= {"name", "fields", "resources"}
    validator = jsonschema.Draft202012Validator(schema)
    assert [
        e.message for e in validator.iter_errors(_as_an_editor_reads(CORPUS_DATABASES / "corpus_shop.yaml"))
    ] == []
