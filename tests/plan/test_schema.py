"""The plan reference is generated from the models and kept complete and current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rollguard.plan import model, schema

REFERENCE = Path(__file__).parents[2] / "docs" / "plan-reference.md"
REGENERATE = "python -m rollguard.plan.schema > docs/plan-reference.md"


def test_every_field_is_documented() -> None:
    missing = [
        f"{cls.__name__}.{key}"
        for cls in schema.reachable_models()
        for key, (_, field) in schema.yaml_fields(cls).items()
        if not (field.description or "").strip()
    ]
    assert not missing, f"fields without a description: {', '.join(missing)}"


def test_every_model_has_a_docstring() -> None:
    assert all((cls.__doc__ or "").strip() for cls in schema.reachable_models())


def test_the_reference_is_up_to_date() -> None:
    current = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    assert current == schema.reference_markdown(), (
        f"docs/plan-reference.md is out of date; regenerate it with: {REGENERATE}"
    )


def test_the_reference_covers_every_model_and_yaml_name() -> None:
    text = schema.reference_markdown()
    for cls in schema.reachable_models():
        assert f"\n## {cls.__name__}\n" in text
    assert "| `apiVersion` |" in text
    assert "| `json` |" in text and "| `in` |" in text
    assert "| `json_path` |" not in text


def test_reachable_models_include_union_members_with_their_paths() -> None:
    found = schema.reachable_models()
    assert found[model.Plan] == ["(top level)"]
    assert found[model.VersionSpec] == ["stable", "candidate"]
    assert "steps[].smoke[]" in found[model.CommandCheck]
    assert found[model.JsonExpect][0] == "preflight[].expect[].json"
    assert found[model.BuiltinMetric] == ["metrics.<name>"]


def test_json_schema_uses_yaml_names() -> None:
    generated = schema.json_schema()
    assert "apiVersion" in generated["properties"]
    assert set(generated["required"]) >= {"apiVersion", "name", "stable", "candidate", "steps"}


def test_the_module_prints_the_reference() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rollguard.plan.schema"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == schema.reference_markdown()


def test_shape_of_reads_units_bounds_and_tags() -> None:
    weight = model.Step.model_fields["weight"]
    assert schema.bounds_text(schema.shape_of(weight.annotation, weight)) == "0..100"
    interval = model.Analysis.model_fields["interval"]
    shape = schema.shape_of(interval.annotation, interval)
    assert (shape.unit, schema.bounds_text(shape)) == ("duration", "> 0")
    preflight = model.Plan.model_fields["preflight"]
    (item,) = schema.shape_of(preflight.annotation, preflight).tp.__args__
    checks = schema.shape_of(item)
    assert checks.discriminator == "kind"
    assert checks.tags() == {
        "command": model.CommandCheck,
        "http": model.HttpCheck,
        "query": model.QueryCheck,
        "bench": model.BenchCheck,
        "image": model.ImageCheck,
    }
