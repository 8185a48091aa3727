"""The model commands: evaluate, models list/show, train; errors exit 1 with a clean message."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from nerdesk.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


def test_evaluate_json_and_text(runner, shared_data, tmp_path):
    data = tmp_path / "small.jsonl"
    lines = (shared_data / "train/gum_ne/test.jsonl").read_text().splitlines()[:150]
    data.write_text("\n".join(lines) + "\n")
    r = runner.invoke(
        cli, ["evaluate", "default", str(data), "--json", "--label-map", "person=PER,place=LOC,organization=ORG"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    res = out["results"][str(data)]
    assert out["model"].startswith("en-base@")
    assert set(res["labels"]) == {"PER", "ORG", "LOC"}
    assert 0.2 < res["exact"]["f1"] <= 1.0
    assert res["partial"]["f1"] >= res["exact"]["f1"]
    assert 0.0 <= res["ece"] <= 1.0 and set(res["per_label"]) <= {"PER", "ORG", "LOC", "MISC"}
    r = runner.invoke(cli, ["evaluate", "default", str(data)])
    assert r.exit_code == 0 and "exact" in r.output and "ECE" in r.output


def test_evaluate_never_scores_zero_silently(runner, shared_data, tmp_path):
    """Gold with none of the model's labels under the map is a coded error naming both label sets;
    a label the model and the data share by name is scored without a --label-map."""
    data = tmp_path / "disease.jsonl"
    lines = (shared_data / "adapt/ncbi_disease/test.jsonl").read_text().splitlines()[:60]
    data.write_text("\n".join(lines) + "\n")
    r = runner.invoke(cli, ["evaluate", "default", str(data)])
    assert r.exit_code == 1
    assert "[E213]" in r.output and "Disease" in r.output and "PER" in r.output
    assert "Traceback" not in r.output
    from nerdesk.core.model.data import model_label_map

    lmap = model_label_map("default", ["PER", "Disease"])
    assert lmap["Disease"] == "Disease" and lmap["person"] == "PER"
    assert model_label_map("identity", ["PER"]) == {}


def test_models_list_and_show(runner):
    r = runner.invoke(cli, ["models", "list", "--json"])
    assert r.exit_code == 0, r.output
    items = json.loads(r.output)
    base = [x for x in items if x["name"] == "en-base"]
    assert base and base[0]["default"] is True and "PER" in base[0]["labels"]
    r = runner.invoke(cli, ["models", "show"])
    assert r.exit_code == 0 and "en-base@" in r.output and "nerdesk train" in r.output
    r = runner.invoke(cli, ["models", "show", "en-base", "--json"])
    card = json.loads(r.output)
    assert card["tag_scheme"] == "BIO" and all("sha256" in v for v in card["files"].values())


def test_bad_model_is_a_clean_error(runner, tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "model.json").write_text("{}")
    r = runner.invoke(cli, ["models", "show", str(tmp_path / "junk")])
    assert r.exit_code == 1 and "[E205]" in r.output and "Traceback" not in r.output
    data = tmp_path / "d.jsonl"
    data.write_text('{"tokens": ["a"], "tags": ["O"]}\n')
    r = runner.invoke(cli, ["evaluate", str(tmp_path / "missing"), str(data)])
    assert r.exit_code == 1 and "[E200]" in r.output


def test_train_cli_tiny(runner, shared_data, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "m"
    r = runner.invoke(
        cli,
        [
            "train",
            str(shared_data / "train/btc/train.jsonl"),
            "--out",
            str(out),
            "--dev",
            str(shared_data / "train/btc/dev.jsonl"),
            "--limit",
            "60",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--no-int8",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    card = json.loads((out / "model.json").read_text())
    assert card["labels"] == ["PER", "ORG", "LOC"] and "int8" not in card["onnx"]
    assert card["training"]["command"].startswith("nerdesk ")
    r = runner.invoke(cli, ["evaluate", str(out), str(shared_data / "train/btc/dev.jsonl"), "--limit", "50", "--json"])
    assert r.exit_code == 0, r.output


def test_help_does_not_import_torch():
    code = (
        "import sys; from click.testing import CliRunner; from nerdesk.cli import cli; "
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0; "
        "print('torch' in sys.modules and sys.modules['torch'] is not None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
