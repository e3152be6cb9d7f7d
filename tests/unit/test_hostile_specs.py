"""Hostile spec files (issue 15, items 2 and 7): each is refused with one located problem, with bounded work
and memory, and never hides the other specs (``load_project``, ``customer-import validate``, the factory).

Work is bounded by construction, not timed: the size limit means a 50 MB file is refused from its size,
the nesting and value limits refuse a file while it is composed, and the bombs run in a subprocess whose
address space is capped (``RLIMIT_AS``), where expanding one would end in ``MemoryError``.
A property test feeds the loader 10,000 generated files (YAML-ish text, arbitrary structures, mutations of
the valid corpus) and checks that it always answers with a model or problems, never raises, and never
needs its last line of defence (the per-file catch-all that would hide a real bug as "cannot be loaded").
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customer_import.spec import yaml_source
from customer_import.spec.loader import MAX_QUERY_CHARS, load_project, yaml_files
from customer_import.spec.problems import Problem
from customer_import.spec.yaml_source import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES, YamlDocument
from tests.helpers import property_examples

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus"
VALID = yaml_files(CORPUS / "specs" / "valid")
DATABASES = yaml_files(CORPUS / "profile_databases")
SCRIPT = Path(sys.executable).with_name("customer-import")
# The address-space cap of the subprocesses: about three times what loading the whole corpus takes
# (~140 MB); a billion laughs expanded, or a 4 GB file read, would need far more.
MEMORY_CAP = 384 * 1024 * 1024
LAST_RESORT = "the file cannot be loaded"
MB = 1024 * 1024

GOOD_SPEC = """\
name: {name}
target:
  database: corpus_shop
  matching: {{by: email_profile}}
source:
  conn_id: corpus_postgres
  query: {query}
mapping:
  - {{field: email, column: email}}
"""


def billion_laughs(levels: int = 9, width: int = 10) -> str:
    lines = ["lol0: &lol0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * width) + "]")
    return "\n".join(["name: billion_laughs", *lines, f"labels: *lol{levels}", ""])


def padded_to(text: str, size: int) -> bytes:
    """A valid spec followed by comment lines, ``size`` bytes in all: valid YAML, only too big."""
    line = "# " + "x" * 77 + "\n"
    body = text + line * ((size - len(text)) // len(line))
    return (body + "#" * (size - len(body) - 1) + "\n").encode()


@dataclass(frozen=True)
class Hostile:
    """A hostile file and the one problem it must be refused with (``path`` ending in ``...``: a prefix)."""

    content: Callable[[], bytes]
    line: int
    path: str
    message: str

    def met_by(self, problem: Problem) -> bool:
        path_ok = (
            problem.path.startswith(self.path[:-3])
            if self.path.endswith("...")
            else problem.path == self.path
        )
        return problem.line == self.line and path_ok and self.message in problem.message


HOSTILE: dict[str, Hostile] = {
    "recursive_anchor": Hostile(
        lambda: b"name: &n [*n]\n", 1, "name[0]", "the alias *n is used inside the value of its own anchor &n"
    ),
    "deep_lists": Hostile(
        lambda: b"name: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
        1,
        "...",  # name[0][0]...; "(syntax)" where libyaml, scanning ahead, stops at its own limit first
        f"the values are nested more than {MAX_DEPTH} levels deep",
    ),
    "deep_mappings": Hostile(
        lambda: b"name: " + b"{a: " * 10_000 + b"1" + b"}" * 10_000 + b"\n",
        1,
        "name.a.a...",
        f"the values are nested more than {MAX_DEPTH} levels deep",
    ),
    "deep_block_lists": Hostile(
        lambda: b"name:\n" + b"- " * 10_000 + b"x\n",
        2,
        "name[0][0]...",
        f"the values are nested more than {MAX_DEPTH} levels deep",
    ),
    "alias_nesting": Hostile(  # each alias shallow, together deeper than the limit
        lambda: "".join(
            f"a{i}: &a{i} [[[[[*a{i - 1}]]]]]\n" if i else "a0: &a0 [x]\n" for i in range(12)
        ).encode(),
        7,
        "a6[0][0][0][0][0]",
        f"nested more than {MAX_DEPTH} levels deep once the alias *a5 is expanded",
    ),
    "billion_laughs": Hostile(
        lambda: billion_laughs().encode(),
        6,
        "lol4[0]",
        f"the file holds more than {MAX_VALUES:,} values, counting each alias as the values it repeats "
        "(the alias *lol3 repeats 11,111 values)",
    ),
    "many_values": Hostile(
        lambda: b"labels: [" + b"x," * (MAX_VALUES + 1) + b"x]\n",
        1,
        f"labels[{MAX_VALUES - 3}]",  # the mapping, "labels" and the list count too
        f"the file holds more than {MAX_VALUES:,} values",
    ),
    "fifty_megabytes": Hostile(
        lambda: padded_to(GOOD_SPEC.format(name="fifty_megabytes", query="SELECT email FROM t"), 50 * MB),
        1,
        "(file)",
        f"the file is 50.0 MB; a spec or profile-database file may be at most {MAX_FILE_BYTES // 1024} KB",
    ),
    "unterminated_quote": Hostile(
        lambda: GOOD_SPEC.format(
            name="unterminated_quote", query='"SELECT email FROM t WHERE a = \'x"'
        ).encode(),
        7,
        "source.query",
        "the query is not valid postgres SQL: an unterminated quote or comment?",
    ),
    "long_query": Hostile(
        lambda: GOOD_SPEC.format(
            name="long_query", query="SELECT email FROM t WHERE " + " OR ".join(["a = 1"] * 14_000)
        ).encode(),
        7,
        "source.query",
        f"a query may be at most {MAX_QUERY_CHARS // 1024} KB",
    ),
    "binary_garbage": Hostile(
        lambda: b"name: garbage\n" + bytes(range(256)) * 8, 3, "(file)", "it is not UTF-8 text (byte 0x80)"
    ),
    "control_character": Hostile(
        lambda: b"name: a\x00b\n", 1, "(syntax)", "it holds the control character #x0000"
    ),
    "python_object_tag": Hostile(
        lambda: b"name: !!python/object/apply:os.system [echo hacked]\n",
        1,
        "name",
        "the tag !!python/object/apply:os.system is not allowed",
    ),
    "impossible_date": Hostile(
        lambda: b"name: x\nschedule: {plan: daily, start_date: 2026-02-30}\n",
        2,
        "schedule.start_date",
        "cannot read the value '2026-02-30': day is out of range for month",
    ),
    "huge_integer": Hostile(
        lambda: b"name: " + b"9" * 5_000 + b"\n", 1, "name", "cannot read the value '9999"
    ),
}


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for name, hostile in HOSTILE.items():
        (folder / f"{name}.yaml").write_bytes(hostile.content())
    return folder


def corpus_name(path: Path) -> str:
    return str(path.relative_to(CORPUS))


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_refused_and_the_valid_specs_still_load(name: str, hostile_folder: Path) -> None:
    hostile = hostile_folder / f"{name}.yaml"
    project = load_project([*VALID, hostile], DATABASES, root=CORPUS)
    problems = project.broken_specs[str(hostile)]
    assert len(problems) == 1 and HOSTILE[name].met_by(problems[0]), [str(p) for p in problems]
    assert [p for p in project.problems if p.file != str(hostile)] == []
    assert sorted(loaded.file for loaded in project.specs.values()) == sorted(map(corpus_name, VALID))


@pytest.mark.parametrize("name", HOSTILE)
def test_pyyamls_own_parser_refuses_them_alike(
    name: str, hostile_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where PyYAML was built without libyaml, its own scanner and parser give the events."""
    monkeypatch.setattr(yaml_source, "_LOADER", yaml_source._PyYamlLoader)
    hostile = hostile_folder / f"{name}.yaml"
    doc = YamlDocument.read(hostile)
    problems = [doc] if isinstance(doc, Problem) else load_project([hostile], DATABASES).problems
    assert len(problems) == 1 and HOSTILE[name].met_by(problems[0]), [str(p) for p in problems]


def test_a_hostile_profile_database_is_refused_and_the_others_load(hostile_folder: Path) -> None:
    files = [hostile_folder / "recursive_anchor.yaml", hostile_folder / "billion_laughs.yaml", *DATABASES]
    project = load_project(VALID, files, root=CORPUS)
    assert {p.file for p in project.problems} == {str(files[0]), str(files[1])}
    assert list(project.databases) == ["corpus_shop"]
    assert len(project.specs) == len(VALID)


def test_the_last_line_of_defence_names_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever still escapes for one file (here: forced) is a problem naming it; the others load."""
    from customer_import.spec import loader

    broken = VALID[0]
    real_check = loader.check_spec_against_database

    def check(spec: Any, database: Any) -> Any:
        if spec.name == yaml.safe_load(broken.read_text(encoding="utf-8"))["name"]:
            raise RecursionError("maximum recursion depth exceeded")
        return real_check(spec, database)

    monkeypatch.setattr(loader, "check_spec_against_database", check)
    project = load_project(VALID, DATABASES, root=CORPUS)
    assert [str(p) for p in project.problems] == [
        f"{corpus_name(broken)}:1: (file): the file cannot be loaded: its values are nested too deeply"
    ]
    assert len(project.specs) == len(VALID) - 1

    def out_of_memory(*args: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(YamlDocument, "_parse", out_of_memory)
    doc = YamlDocument.read(broken, "spec.yaml")
    assert doc == Problem("spec.yaml", 1, "(file)", "the file cannot be loaded: it needs too much memory")


def test_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    spec = tmp_path / "anchors.yaml"
    spec.write_text(
        """\
name: anchors
target: {database: corpus_shop, matching: {by: email_profile}}
source:
  conn_id: corpus_postgres
  query: SELECT email, phone, sms_status FROM t
mapping:
  - &email {field: email, column: email}
subscriptions:
  - &news {resource: newsletter, channel: email, column: email, status: subscribed}
  - {<<: *news, resource: sms_promo, channel: sms, column: phone, status: null, status_column: sms_status}
labels: &labels [crm, nightly]
description: uses anchors
""",
        encoding="utf-8",
    )
    project = load_project([spec], DATABASES)
    assert [str(p) for p in project.problems] == []
    model = project.specs["anchors"].model
    assert model.labels == ["crm", "nightly"]
    assert [s.resource for s in model.subscriptions] == ["newsletter", "sms_promo"]
    assert model.subscriptions[1].status_column == "sms_status"
    assert project.specs["anchors"].lines[("subscriptions", 1, "resource")] == 10


def test_limits_leave_room_for_legitimate_specs() -> None:
    """A spec of 500 mapped fields with options is well inside every limit."""
    mapping = "\n".join(
        f"  - {{field: f{i}, column: c{i}, phone: {{default_region: DE}}, date_format: '%d.%m.%Y'}}"
        for i in range(500)
    )
    text = "name: big\nmapping:\n" + mapping + "\n"
    assert len(text) < MAX_FILE_BYTES / 4
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.yaml"
        path.write_text(text, encoding="utf-8")
        doc = YamlDocument.read(path)
    assert isinstance(doc, YamlDocument), doc
    assert len(doc.data["mapping"]) == 500


# --- bounded memory: the bombs in a subprocess with a capped address space --------------------------------

_CAPPED_LOAD = """
import json, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
from customer_import.spec.loader import load_project
specs = [Path(p) for p in json.loads(sys.argv[1])]
databases = [Path(p) for p in json.loads(sys.argv[2])]
project = load_project(specs, databases)
print(json.dumps({{"specs": sorted(project.specs), "problems": [[p.file, p.line, p.path, p.message]
    for p in project.problems]}}))
"""


def test_bombs_are_refused_within_a_few_hundred_megabytes(tmp_path: Path, hostile_folder: Path) -> None:
    bombs = {
        name: hostile_folder / f"{name}.yaml" for name in ("billion_laughs", "recursive_anchor", "deep_lists")
    }
    bigger = tmp_path / "bigger_laughs.yaml"  # 20^12 values
    bigger.write_text(billion_laughs(levels=12, width=20), encoding="utf-8")
    fan_out = tmp_path / "fan_out.yaml"  # one wide anchor repeated by many aliases: 10^6 values
    fan_out.write_text("a: &a [" + "x, " * 999 + "x]\nb: [" + "*a, " * 999 + "*a]\n", encoding="utf-8")
    sparse = tmp_path / "sparse.yaml"  # 4 GB that takes no disk: reading it would need 4 GB of memory
    with sparse.open("wb") as file:
        file.truncate(4096 * MB)
    specs = [str(p) for p in [*VALID, *bombs.values(), bigger, fan_out, sparse]]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _CAPPED_LOAD.format(cap=MEMORY_CAP),
            *map(json.dumps, [specs, list(map(str, DATABASES))]),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    problems = {file: Problem(file, line, path, message) for file, line, path, message in out["problems"]}
    assert set(problems) == {str(p) for p in [*bombs.values(), bigger, fan_out, sparse]}
    for name, path in bombs.items():
        assert HOSTILE[name].met_by(problems[str(path)]), problems[str(path)]
    assert f"more than {MAX_VALUES:,} values" in problems[str(bigger)].message
    assert problems[str(fan_out)].message.startswith(f"the file holds more than {MAX_VALUES:,} values")
    assert problems[str(fan_out)].path.startswith("b[")
    assert problems[str(sparse)].message.startswith("the file is 4096.0 MB;")
    assert len(out["specs"]) == len(VALID)


# --- customer-import validate ---------------------------------------------------------------------------


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_validate_refuses_every_hostile_file_with_a_located_line(
    hostile_folder: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__CUSTOMER_IMPORT__")}
    env["AIRFLOW_HOME"] = str(tmp_path)
    env["AIRFLOW__CUSTOMER_IMPORT__DATABASES_FOLDER"] = str(CORPUS / "profile_databases")
    result = subprocess.run(
        [str(SCRIPT), "validate", str(hostile_folder), "tests/corpus/specs/valid"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        preexec_fn=_cap_memory,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.startswith(f"FAILED: {len(VALID)} valid spec(s), ")
    lines = result.stderr.splitlines()
    for name, hostile in HOSTILE.items():
        prefix = f"{hostile_folder / name}.yaml:{hostile.line}: "
        mine = [line for line in lines if line.startswith(prefix)]
        assert len(mine) == 1, (name, [line for line in lines if name in line])
        problem = mine[0].removeprefix(prefix)
        path, _, message = problem.partition(": ")
        assert hostile.met_by(Problem("", hostile.line, path, message)), mine[0]
    assert all(line.startswith((str(hostile_folder), "warning: ")) for line in lines), lines


# --- the factory: the good DAG is built, the hostile file is an import error ------------------------------


@pytest.mark.parametrize(
    "name", ["recursive_anchor", "billion_laughs", "fifty_megabytes", "unterminated_quote"]
)
def test_the_factory_builds_the_good_dag_beside_a_hostile_file(
    name: str, hostile_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from customer_import.factory import INVALID_SPECS_DAG_ID, build_dags

    specs, databases = tmp_path / "include" / "import_specs", tmp_path / "include" / "profile_databases"
    specs.mkdir(parents=True)
    databases.mkdir()
    shutil.copy(CORPUS / "specs" / "valid" / "matching_email.yaml", specs / "matching_email.yaml")
    shutil.copy(hostile_folder / f"{name}.yaml", specs / f"{name}.yaml")
    shutil.copy(DATABASES[0], databases / DATABASES[0].name)
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__SPECS_FOLDER", str(specs))
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__DATABASES_FOLDER", str(databases))
    namespace: dict[str, Any] = {}
    dags = build_dags(namespace, project_dir=tmp_path)
    assert list(dags) == ["matching_email"]
    assert namespace["matching_email"] is dags["matching_email"]
    problems = namespace[INVALID_SPECS_DAG_ID].params["problems"]
    assert len(problems) == 1
    hostile = HOSTILE[name]
    where = f"include/import_specs/{name}.yaml:{hostile.line}: "
    assert problems[0].startswith(where) and hostile.message in problems[0], problems


# --- property: the loader never raises, whatever the file holds -------------------------------------------

_TOKENS = [
    *"abcxyz019 _-:?,[]{}#&*!|>'\"%@`~=<.\n\t",
    "\n  ",
    "\n- ",
    ": ",
    "- ",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "!!python/object ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!str ",
    "!foo ",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "? ",
    "null",
    "true",
    "1e999",
    "-.inf",
    ".nan",
    "0x1F",
    "0o17",
    "2026-13-01",
    "2026-01-01T25:00",
    "12:30:00",
    "9" * 4400,
    "name",
    "source",
    "query",
    "SELECT email FROM t",
    "'x",
    "{lastItem}",
    "{{ ds }}",
    "mapping",
    "\x00",
    "\x85",
    "\u2028",
    "\ufeff",
    "é",
    "🦜",
]
_SPECS = [path.read_text(encoding="utf-8") for path in VALID]
_SPEC_DATA = [yaml.safe_load(text) for text in _SPECS]
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: the test spends its time loading
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.dates()
    | st.binary(max_size=8)
)
_KEYS = st.sampled_from(
    ["name", "target", "source", "mapping", "schedule", "query", "field", "column", "plan", "by", "<<"]
) | st.text(max_size=6)
_STRUCTURES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=8,
)


# Mutations of the valid corpus are driven by one drawn seed: ten thousand of them stay cheap to generate
# (a failure still prints its spec and seed, which replay it).
_WORDS = [
    "name",
    "target",
    "source",
    "query",
    "mapping",
    "schedule",
    "plan",
    "by",
    "field",
    "column",
    "<<",
    "",
]
_CHARACTERS = "abz09 _-:[]{}#&*!|>'\"\n\té🦜\x85\u2028"


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(12 if depth < 4 else 10)
    if kind >= 10:
        size = rng.randrange(4)
        if kind == 10:
            return [_random_value(rng, depth + 1) for _ in range(size)]
        return {rng.choice([*_WORDS, rng.random()]): _random_value(rng, depth + 1) for _ in range(size)}
    return [
        None,
        rng.random() < 0.5,
        rng.randint(-(2**70), 2**70),
        rng.choice([rng.uniform(-1e308, 1e308), float("inf"), float("nan"), -0.0]),
        "".join(rng.choices(_CHARACTERS, k=rng.randrange(12))),
        rng.choice(_TOKENS),
        dt.date(rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28)),
        dt.datetime(rng.randint(1, 9999), 1, 1, rng.randrange(24), tzinfo=rng.choice([None, dt.UTC])),
        rng.randbytes(rng.randrange(6)),
        rng.choice(_WORDS),
    ][kind]


def _mutated(text: str, seed: int) -> bytes:
    """``text`` with one to three slices replaced by a few YAML-significant tokens."""
    rng = random.Random(seed)
    for _ in range(rng.randint(1, 3)):
        start = rng.randint(0, len(text))
        end = rng.randint(start, min(len(text), start + 20))
        text = text[:start] + "".join(rng.choices(_TOKENS, k=rng.randrange(5))) + text[end:]
    return text.encode("utf-8", "surrogatepass")


def _with_a_structure(data: Any, seed: int) -> bytes:
    """A valid corpus spec with one value, at any depth, replaced by an arbitrary structure."""
    rng = random.Random(seed)
    node = data = copy.deepcopy(data)
    key: Any = rng.choice(list(node))
    while isinstance(node[key], dict | list) and node[key] and rng.random() < 0.5:
        node = node[key]
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
    node[key] = _random_value(rng)
    return _dump(data)


def _with_a_mutated_text(data: Any, seed: int) -> bytes:
    """A valid corpus spec with one text value (the query, a name, a column...) mutated: mostly still a
    valid model, so the checks against the database (the query's SQL, the schedule) see it."""
    rng = random.Random(seed)
    data = copy.deepcopy(data)
    leaves: list[tuple[Any, Any]] = []
    todo: list[Any] = [data]
    while todo:
        node = todo.pop()
        for key in list(node) if isinstance(node, dict) else range(len(node)):
            if isinstance(node[key], str):
                leaves.append((node, key))
            elif isinstance(node[key], dict | list):
                todo.append(node[key])
    node, key = rng.choice(leaves)
    node[key] = _mutated(node[key], rng.randrange(2**32)).decode("utf-8")
    return _dump(data)


_SEEDS = st.integers(0, 2**32 - 1)


def _dump(data: Any) -> bytes:
    return yaml.dump(data, Dumper=_DUMPER, allow_unicode=True).encode("utf-8", "surrogatepass")


_FILES = st.one_of(
    st.lists(st.sampled_from(_TOKENS), max_size=24)
    .map("".join)
    .map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
    _STRUCTURES.map(_dump),
    st.builds(_mutated, st.sampled_from(_SPECS), _SEEDS),
    st.builds(_with_a_structure, st.sampled_from(_SPEC_DATA), _SEEDS),
    st.builds(_with_a_mutated_text, st.sampled_from(_SPEC_DATA), _SEEDS),
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hostile-specs-") as folder:
        yield Path(folder)


@settings(
    max_examples=property_examples(10_000),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(content=_FILES)
def test_the_loader_never_raises(scratch: Path, content: bytes) -> None:
    path = scratch / "generated.yaml"
    path.write_bytes(content)
    # Without databases first (``YamlDocument.read`` and the model's validation); a spec that passes is then
    # cross-checked against the corpus's database (fields, query, schedule), as a deployment would.
    project = load_project([path], [], root=scratch)
    if [p.path for p in project.problems] == ["target.database"]:
        project = load_project([path], DATABASES, root=scratch)
    assert bool(project.specs) != bool(project.problems), (project.specs, project.problems)
    for problem in project.problems:
        assert isinstance(problem, Problem) and problem.file == "generated.yaml"
        assert problem.message and LAST_RESORT not in problem.message, problem
    for loaded in project.specs.values():
        assert loaded.file == "generated.yaml"
