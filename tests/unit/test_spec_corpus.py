"""The spec corpus (``tests/corpus/specs/``): valid specs load cleanly, invalid ones report exactly their problems.

Every file of ``invalid/`` starts with one ``# expect: <line> <yaml.path> <substring of the message>`` comment
per problem it must report. A file's problems must be exactly its expectations: each expectation is met by
a problem on that line, at that path, whose message contains the substring, and no other problem is reported.

All files are loaded together, valid ones first, the way ``load_project`` loads a project, against the
corpus's own profile database (``tests/corpus/profile_databases/corpus_shop.yaml``). So
``invalid/duplicate_name.yaml`` is refused for reusing the name of ``valid/once_at.yaml``, and the valid
specs must stay valid next to every broken one.
"""

from __future__ import annotations

import os
import re
import tempfile

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))

import typing
from dataclasses import dataclass
from pathlib import Path

import pytest

from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.loader import Project, load_project, yaml_files
from customer_import.spec.problems import Problem
from customer_import.spec.schedule import Schedule
from customer_import.spec.vocab import ImportMode, MatchBy

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
VALID = yaml_files(CORPUS / "specs" / "valid")
INVALID = yaml_files(CORPUS / "specs" / "invalid")
DATABASES = yaml_files(CORPUS / "profile_databases")
EXPECT = re.compile(r"^# expect: (?P<line>\d+) (?P<path>\(top level\)|\S+) (?P<message>.+)$")


@dataclass(frozen=True)
class Expected:
    line: int
    path: str
    message: str

    def met_by(self, problem: Problem) -> bool:
        return problem.line == self.line and problem.path == self.path and self.message in problem.message

    def __str__(self) -> str:
        return f"{self.line} {self.path} {self.message}"


def expectations(path: Path) -> list[Expected]:
    found = []
    for text in path.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(text)
        if match:
            found.append(Expected(int(match["line"]), match["path"], match["message"].strip()))
        elif text.startswith("# expect"):
            pytest.fail(f"{path.name}: malformed expectation {text!r}")
    return found


def display(path: Path) -> str:
    return str(path.relative_to(CORPUS))


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project([*VALID, *INVALID], DATABASES, root=CORPUS)


def test_corpus_is_there() -> None:
    assert len(VALID) >= 12
    assert len(INVALID) >= 30
    assert [display(p) for p in DATABASES] == ["profile_databases/corpus_shop.yaml"]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_spec_loads_without_problems(path: Path, project: Project) -> None:
    alone = load_project([path], DATABASES, root=CORPUS)
    assert [str(p) for p in alone.problems] == []
    assert [spec.file for spec in alone.specs.values()] == [display(path)]
    # Also next to every invalid spec: the invalid ones take no name and report nothing against it.
    assert [str(p) for p in project.problems if p.file == display(path)] == []
    assert display(path) not in project.broken_specs


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_spec_reports_exactly_its_problems(path: Path, project: Project) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} has no '# expect: <line> <path> <message>' line"
    problems = [p for p in project.problems if p.file == display(path)]
    reported = "\n".join(f"  {p.line} {p.path} {p.message}" for p in problems) or "  (none)"
    missing = [str(e) for e in expected if not any(e.met_by(p) for p in problems)]
    assert not missing, f"expected problems not reported: {missing}\nreported:\n{reported}"
    unexpected = [str(p) for p in problems if not any(e.met_by(p) for e in expected)]
    assert not unexpected, f"problems not expected: {unexpected}"
    assert all(p.file == display(path) for p in project.broken_specs[display(path)])
    assert all(loaded.file != display(path) for loaded in project.specs.values())


def test_several_problems_of_one_file_are_all_reported(project: Project) -> None:
    problems = project.broken_specs["specs/invalid/several_problems.yaml"]
    assert len(problems) == len(expectations(CORPUS / "specs" / "invalid" / "several_problems.yaml")) >= 5
    assert len({p.path.split(".")[0] for p in problems}) >= 4  # name, target, schedule, mapping


def test_an_invalid_spec_does_not_hide_the_others(project: Project) -> None:
    assert sorted(loaded.file for loaded in project.specs.values()) == sorted(display(p) for p in VALID)


def _valid_specs(project: Project) -> list[ImportSpec]:
    return [loaded.model for loaded in project.specs.values()]


def test_valid_corpus_covers_every_plan_and_supported_matching(project: Project) -> None:
    specs = _valid_specs(project)
    every_plan = {
        typing.get_args(member.model_fields["plan"].annotation)[0]
        for member in typing.get_args(typing.get_args(Schedule)[0])
    }
    assert {spec.schedule.plan for spec in specs} == every_plan
    assert {spec.target.matching.by for spec in specs} >= set(MatchBy)
    assert {spec.target.mode for spec in specs} == set(ImportMode)


def test_valid_corpus_covers_the_schedule_forms(project: Project) -> None:
    plans = [spec.schedule for spec in _valid_specs(project)]
    once = [p for p in plans if p.plan == "once"]
    assert any(not isinstance(p.at, list) and p.at is not None for p in once)  # at: one datetime
    assert any(isinstance(p.at, list) for p in once)  # at: a list
    assert any(p.date is not None and p.times for p in once)  # date with times
    assert any(p.plan == "daily" and len(p.times) > 1 for p in plans)
    assert any(p.plan == "weekly" and p.months for p in plans)
    assert any(p.plan == "monthly" and -1 in p.days for p in plans)
    assert any(p.plan == "nth_weekday" and p.nth == -1 for p in plans)
    assert any(p.start_date and p.deactivate_at for p in plans)
    assert any(p.timezone != "UTC" for p in plans)


def test_valid_corpus_covers_source_and_options(project: Project) -> None:
    specs = _valid_specs(project)
    assert any(s.source.drain and s.source.cursor for s in specs)
    assert any(s.source.cursor and not s.source.drain for s in specs)
    assert any(not s.source.uses_last_item and s.source.cursor is None for s in specs)
    assert any("{{" in s.source.query for s in specs)  # Jinja expressions
    assert any(s.source.query.lstrip().upper().startswith("WITH") for s in specs)
    assert any(s.target.matching.by == "profile_id" and s.target.mode == "update_only" for s in specs)
    assert any("prevent_duplication" in s.model_fields_set for s in specs)
    assert any(s.reports.max_error_rate is not None and s.reports.mask_contacts for s in specs)
    assert any(m.phone is not None for s in specs for m in s.mapping)
    assert any(m.date_format is not None for s in specs for m in s.mapping)
