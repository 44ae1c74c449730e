"""The loader reports every plan mistake with its file, line, YAML path and what was expected."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rollguard.errors import PlanError, PlanIssue
from rollguard.plan import loader, model

FIXTURES = Path(__file__).parent / "fixtures"

# The first nine lines of a valid plan; cases below add or change lines after it.
HEAD = """\
apiVersion: rollguard/v1
name: chat
stable:
  version: node-1.8.2
  url: http://127.0.0.1:3010
candidate:
  version: go-3f9c2e1
  url: http://127.0.0.1:3020
steps:
"""


def issues_of(tmp_path: Path, text: str) -> list[PlanIssue]:
    file = tmp_path / "plan.yaml"
    file.write_text(textwrap.dedent(text))
    with pytest.raises(PlanError) as caught:
        loader.load_plan(file)
    assert all(issue.file == str(file) for issue in caught.value.issues)
    return caught.value.issues


# (id, plan text, line, path, part of the message)
MISTAKES = [
    (
        "yaml-syntax",
        HEAD + "  - weight: [5\n    observe: 10m\n",
        11,
        "",
        "invalid YAML: expected ',' or ']'",
    ),
    (
        "unknown-top-level-key",
        HEAD + "  - weight: 5\nowner:\n  sre: [bob]\n",
        11,
        "owner",
        "unknown key 'owner' (did you mean 'owners'?)",
    ),
    (
        "unknown-nested-key",
        HEAD + "  - weight: 5\n    obsrve: 10m\n",
        11,
        "steps[0].obsrve",
        "unknown key 'obsrve' (did you mean 'observe'?)",
    ),
    (
        "unknown-key-no-near-match",
        HEAD + "  - weight: 5\nanalysis:\n  zzz: 1\n",
        12,
        "analysis.zzz",
        "unknown key 'zzz' (allowed keys: interval, window, baseline, min_samples,",
    ),
    (
        "string-where-int",
        HEAD + "  - weight: 5\nanalysis:\n  min_samples: plenty\n",
        12,
        "analysis.min_samples",
        "'plenty' is not a whole number (expected a whole number >= 1)",
    ),
    (
        "bad-duration",
        HEAD + "  - weight: 5\nanalysis:\n  interval: ten seconds\n",
        12,
        "analysis.interval",
        "'ten seconds' is not a duration (expected a duration above 0 like 30s, 10m, 1h, 250ms)",
    ),
    (
        "weight-over-100",
        HEAD + "  - weight: 5\n  - weight: 120\n",
        11,
        "steps[1].weight",
        "120 is too large (expected a whole number 0..100)",
    ),
    (
        "unknown-template-name",
        HEAD + "  - smoke:\n      - kind: http\n        name: s\n        url: ${candidate.uri}/x\n",
        13,
        "steps[0].smoke[0].url",
        "unknown template name 'candidate.uri' (did you mean 'candidate.url'? known: stable.url,",
    ),
    (
        "unterminated-template",
        HEAD + "  - smoke:\n      - kind: command\n        name: s\n        shell: echo ${run.id\n",
        13,
        "steps[0].smoke[0].shell",
        "unterminated template at '${run.id'",
    ),
    (
        "missing-stable-url",
        "apiVersion: rollguard/v1\nname: chat\nstable:\n  version: a\n"
        "candidate:\n  version: b\n  url: http://c\nsteps:\n  - weight: 5\n",
        3,
        "stable.url",
        "missing required key 'url' (base URL where this version serves, e.g. `http://",
    ),
    (
        "missing-stable",
        "apiVersion: rollguard/v1\nname: chat\ncandidate:\n  version: b\n  url: http://c\n"
        "steps:\n  - weight: 5\n",
        1,
        "stable",
        "missing required key 'stable' (the version serving today (the rollback target); "
        "expected a mapping with keys version, url,",
    ),
    (
        "step-with-weight-and-smoke",
        HEAD + "  - weight: 5\n  - weight: 10\n    smoke: []\n",
        11,
        "steps[1]",
        "a step has exactly one of weight, smoke, approve (found weight, smoke)",
    ),
    (
        "trigger-unknown-metric",
        HEAD + "  - weight: 5\nmetrics:\n  errors: {query: error_ratio}\n"
        "triggers:\n  - name: t\n    metric: errors_5xx\n    max: 1%\n",
        15,
        "triggers[0].metric",
        "unknown metric 'errors_5xx' (metrics: errors)",
    ),
    (
        "approve-role-not-in-owners",
        HEAD + "  - weight: 5\n  - approve: [dba]\nowners:\n  sre: [bob]\n",
        11,
        "steps[1].approve",
        "unknown role 'dba' (owners: sre)",
    ),
    (
        "check-with-command-and-shell",
        HEAD + "  - weight: 5\npreflight:\n  - kind: command\n    name: tests\n"
        "    command: [make, test]\n    shell: make test\n",
        12,
        "preflight[0]",
        "give exactly one of `command` (argv list) or `shell`",
    ),
    (
        "bad-percentage",
        HEAD + "  - weight: 5\nmetrics:\n  errors: {query: error_ratio}\n"
        "triggers:\n  - name: t\n    metric: errors\n    any:\n      - max: lots%\n",
        17,
        "triggers[0].any[0].max",
        "'lots%' is not a percentage (expected a number, a percentage like 0.5%",
    ),
    (
        "unknown-check-kind",
        HEAD + "  - weight: 5\npreflight:\n  - name: tests\n    kind: grpc\n",
        13,
        "preflight[0].kind",
        "unknown check kind 'grpc' (known kinds: command, http, query, bench, image)",
    ),
    (
        "check-without-kind",
        HEAD + "  - weight: 5\npost_validation:\n  - name: tests\n",
        12,
        "post_validation[0].kind",
        "missing 'kind' (expected a check kind: command, http, query, bench, image)",
    ),
    (
        "tag-dropped-from-nested-path",
        HEAD + "  - weight: 5\npreflight:\n  - kind: command\n    name: t\n    shell: x\n"
        "    timeout: forever\n",
        15,
        "preflight[0].timeout",
        "'forever' is not a duration (expected a duration like 30s, 10m, 1h, 250ms)",
    ),
    (
        "wrong-api-version",
        HEAD.replace("rollguard/v1", "rollguard/v2") + "  - weight: 5\n",
        1,
        "apiVersion",
        "'rollguard/v2' is not a supported apiVersion (expected rollguard/v1)",
    ),
    (
        "missing-api-version",
        HEAD.replace("apiVersion: rollguard/v1\n", "") + "  - weight: 5\n",
        1,
        "apiVersion",
        "missing apiVersion (expected rollguard/v1)",
    ),
    (
        "duplicate-key",
        HEAD + "  - weight: 5\n    weight: 10\n",
        11,
        "steps[0].weight",
        "duplicate key 'weight'",
    ),
    (
        "empty-steps",
        HEAD.replace("steps:\n", "steps: []\n"),
        9,
        "steps",
        "at least one step is needed",
    ),
    (
        "alias-shown-as-yaml-key",
        HEAD + "  - smoke:\n      - kind: http\n        name: s\n        url: http://x\n"
        "        expect:\n          - in: output\n            json: {path: a, bogus: 1}\n",
        16,
        "steps[0].smoke[0].expect[0].json.bogus",
        "unknown key 'bogus' (allowed keys: path, equals, max, min, exists)",
    ),
    (
        "scalar-where-list",
        HEAD + "  - weight: 5\nowners:\n  sre: bob\n",
        12,
        "owners.sre",
        "'bob' is not a list (expected a list of text)",
    ),
    (
        "literal-choice",
        HEAD + "  - weight: 5\nanalysis:\n  on_provider_error: ignore\n",
        12,
        "analysis.on_provider_error",
        "'ignore' is not allowed (expected one of: rollback, pause)",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "path", "message"),
    [case[1:] for case in MISTAKES],
    ids=[case[0] for case in MISTAKES],
)
def test_each_mistake_is_reported_where_it_is(
    tmp_path: Path, text: str, line: int, path: str, message: str
) -> None:
    issues = issues_of(tmp_path, text)
    assert len(issues) == 1, issues
    (issue,) = issues
    assert (issue.line, issue.path) == (line, path)
    assert message in issue.message
    assert str(issue).startswith(f"{tmp_path / 'plan.yaml'}:{line}:")


def test_several_mistakes_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = """\
        apiVersion: rollguard/v1
        name: chat
        stable:
          version: a
        candidate:
          version: b
          url: ${candidate.uri}
        analysis:
          interval: soon
        steps:
          - weight: 120
          - weight: 5
            obsrve: 10m
        """
    issues = issues_of(tmp_path, text)
    assert [(i.line, i.path) for i in issues] == [
        (3, "stable.url"),
        (7, "candidate.url"),
        (9, "analysis.interval"),
        (11, "steps[0].weight"),
        (13, "steps[1].obsrve"),
    ]
    error = PlanError(issues)
    assert str(error).count("\n") == 4


def test_the_column_points_at_the_key(tmp_path: Path) -> None:
    (issue,) = issues_of(tmp_path, HEAD + "  - weight: 5\n    obsrve: 10m\n")
    assert issue.column == 5


def test_bad_yaml_is_one_issue_without_traceback(tmp_path: Path) -> None:
    (issue,) = issues_of(tmp_path, "apiVersion: rollguard/v1\nname: a: b\n")
    assert (issue.line, issue.column) == (2, 8)
    assert "Traceback" not in issue.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the plan is empty"),
        ("# only a comment\n", "the plan is empty"),
        ("- weight: 5\n", "the top level is a list (expected a mapping"),
        ("just text\n", "the top level is 'just text' (expected a mapping"),
    ],
)
def test_the_top_level_must_be_a_mapping(tmp_path: Path, text: str, message: str) -> None:
    (issue,) = issues_of(tmp_path, text)
    assert message in issue.message
    assert "apiVersion: rollguard/v1" in issue.message


def test_a_missing_file_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        loader.load_plan(tmp_path / "nope.yaml")
    (issue,) = caught.value.issues
    assert issue.file == str(tmp_path / "nope.yaml")
    assert "no such file" in issue.message


def test_a_folder_is_not_a_plan(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="is a folder"):
        loader.load_plan(tmp_path)


def test_a_complete_plan_loads() -> None:
    loaded = loader.load_plan(FIXTURES / "chat.yaml")
    plan = loaded.plan
    assert isinstance(plan, model.Plan)
    assert loaded.base_dir == FIXTURES.resolve()
    assert loaded.path == (FIXTURES / "chat.yaml").resolve()
    assert loaded.text == (FIXTURES / "chat.yaml").read_text()
    assert [s.kind for s in plan.steps] == ["weight", "smoke", "approve", "weight", "weight"]
    assert plan.steps[0].observe == 600.0
    assert plan.triggers[0].conditions()[0].max == pytest.approx(0.005)
    assert plan.triggers[1].max == pytest.approx(0.25)
    assert plan.preflight[0].expect[2].json_path is not None
    assert plan.preflight[0].expect[1].source == "artifacts"


def test_loaded_values_are_plain_python(tmp_path: Path) -> None:
    loaded = loader.load_plan(FIXTURES / "chat.yaml")
    assert type(loaded.plan.analysis.interval) is float
    assert type(loaded.plan.stable.command) is list
    assert all(type(a) is str for a in loaded.plan.stable.command or [])


def test_parse_plan_reads_the_text_a_rollout_stored() -> None:
    text = (FIXTURES / "minimal.yaml").read_text()
    loaded = loader.parse_plan(text, filename="stored-plan.yaml", base_dir=FIXTURES)
    assert loaded.plan.name == "minimal"
    assert loaded.path == Path("stored-plan.yaml")
    assert loaded.base_dir == FIXTURES.resolve()
    assert loaded.text == text


def test_parse_plan_names_the_given_file_in_issues() -> None:
    with pytest.raises(PlanError) as caught:
        loader.parse_plan("apiVersion: nope\n", filename="stored.yaml", base_dir=Path("."))
    assert str(caught.value).startswith("stored.yaml:1:1: apiVersion: 'nope'")


def test_keys_merged_from_an_anchor_are_located_in_the_anchor(tmp_path: Path) -> None:
    text = """\
        apiVersion: rollguard/v1
        name: chat
        stable: &version
          version: a
          url: ${stable.uri}
        candidate:
          <<: *version
          version: b
        steps:
          - weight: 5
        """
    issues = issues_of(tmp_path, text)
    assert [(i.line, i.path) for i in issues] == [(5, "candidate.url"), (5, "stable.url")]
    (overridden,) = issues_of(tmp_path, text.replace("version: b", "version: 2"))[2:]
    assert (overridden.line, overridden.path) == (8, "candidate.version")
