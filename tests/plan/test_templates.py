"""Templates: which names a plan may use, and how run-time values are filled in."""

from __future__ import annotations

import pytest

from rollguard.errors import PermanentError
from rollguard.plan import model, templates

CONTEXT = {
    "stable.url": "http://127.0.0.1:3010",
    "candidate.url": "http://127.0.0.1:3020",
    "candidate.version": "go-3f9c2e1",
    "router.url": "http://127.0.0.1:8080",
    "run.id": "r-1",
}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("no templates", []),
        ("${candidate.url}/status", ["candidate.url"]),
        ("${stable.url} ${ run.id } ${env.TOKEN}", ["stable.url", "run.id", "env.TOKEN"]),
        ("$${HOME} and $$ and $x", []),
        ("$${literal} then ${plan.dir}", ["plan.dir"]),
        ("${a}${a}", ["a", "a"]),
    ],
)
def test_find_names(text: str, names: list[str]) -> None:
    assert templates.find_names(text) == names


def test_an_unterminated_template_is_a_syntax_error() -> None:
    with pytest.raises(templates.TemplateSyntaxError) as caught:
        templates.find_names("echo ok ${run.id")
    assert caught.value.offset == 8
    assert "unterminated" in str(caught.value)


@pytest.mark.parametrize("name", [*templates.TEMPLATE_NAMES, "env.HOME", "env._X1"])
def test_known_names(name: str) -> None:
    assert templates.is_known(name)


@pytest.mark.parametrize("name", ["candidate.uri", "env.", "env.1X", "env.A-B", "url", ""])
def test_unknown_names(name: str) -> None:
    assert not templates.is_known(name)


def test_unknown_name_message_suggests_and_lists() -> None:
    message = templates.unknown_name_message("candidate.uri")
    assert message.startswith(
        "unknown template name 'candidate.uri' (did you mean 'candidate.url'?"
    )
    assert "known: stable.url, stable.version, candidate.url" in message
    assert message.endswith("environment: env.NAME)")
    assert "did you mean" not in templates.unknown_name_message("zzzzzz")


def test_render_walks_lists_and_mappings() -> None:
    value = {
        "url": "${candidate.url}/status",
        "argv": ["./contract", "--target", "${router.url}"],
        "nested": {"id": "run ${run.id}", "count": 3, "flag": True, "none": None},
        "pair": ("${stable.url}", 1),
    }
    assert templates.render(value, CONTEXT, env={}) == {
        "url": "http://127.0.0.1:3020/status",
        "argv": ["./contract", "--target", "http://127.0.0.1:8080"],
        "nested": {"id": "run r-1", "count": 3, "flag": True, "none": None},
        "pair": ("http://127.0.0.1:3010", 1),
    }


def test_mapping_keys_are_not_rendered() -> None:
    assert templates.render({"${run.id}": "x"}, CONTEXT, env={}) == {"${run.id}": "x"}


def test_escape_gives_a_literal_opener() -> None:
    rendered = templates.render("echo $${HOME} ${run.id}", CONTEXT, env={})
    assert rendered == "echo ${HOME} r-1"


def test_environment_variables() -> None:
    assert templates.render("Bearer ${env.TOKEN}", CONTEXT, env={"TOKEN": "s3"}) == "Bearer s3"


def test_a_missing_environment_variable_is_permanent() -> None:
    with pytest.raises(PermanentError, match="environment variable TOKEN is not set"):
        templates.render(["ok", "${env.TOKEN}"], CONTEXT, env={"OTHER": "1"})


def test_a_name_without_a_value_is_permanent() -> None:
    with pytest.raises(PermanentError, match="'run.dir' has no value"):
        templates.render("${run.dir}/out", CONTEXT, env={})


def test_values_are_not_expanded_twice() -> None:
    rendered = templates.render("${env.A}", CONTEXT, env={"A": "${run.id} $${x}"})
    assert rendered == "${run.id} $${x}"


def test_render_model_returns_the_same_type_validated() -> None:
    check = model.HttpCheck(
        kind="http",
        name="status",
        url="${candidate.url}/status",
        headers={"Authorization": "Bearer ${env.TOKEN}"},
        timeout=5,
        expect=[model.Expect(contains="${candidate.version}")],
    )
    rendered = templates.render_model(check, CONTEXT, env={"TOKEN": "t"})
    assert type(rendered) is model.HttpCheck
    assert rendered.url == "http://127.0.0.1:3020/status"
    assert rendered.headers == {"Authorization": "Bearer t"}
    assert rendered.expect[0].contains == "go-3f9c2e1"
    assert rendered.timeout == 5.0
    assert check.url == "${candidate.url}/status"  # the original is untouched


def test_render_model_keeps_aliased_fields() -> None:
    expect = model.Expect(source="${run.id}.log", not_contains="panic")
    rendered = templates.render_model(expect, CONTEXT, env={})
    assert rendered.source == "r-1.log"


def test_env_default_is_used_only_when_the_variable_is_unset() -> None:
    from rollguard.plan.templates import render_text

    assert render_text("p=${env.PORT:-3010}", {}, env={}) == "p=3010"
    assert render_text("p=${env.PORT:-3010}", {}, env={"PORT": "4000"}) == "p=4000"
    assert render_text("${env.EMPTY:-}", {}, env={}) == ""


def test_a_default_is_only_allowed_on_environment_names() -> None:
    from rollguard.plan.templates import is_known

    assert is_known("env.PORT", default="1")
    assert not is_known("candidate.url", default="x")
