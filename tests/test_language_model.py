"""Bring your own language model: imported only if it passes the built-in evaluation (a weak
model, run by onnxruntime-genai itself, is refused and nothing is installed); a model that
passed writes a summary per competency beside the evidence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.db.models import AuditEntry
from appliance.evidence import language_model, summary_evaluation
from appliance.evidence.summary_evaluation import Item, check, evaluate
from appliance.runtime import Runtime
from tests.support.language_model import weak_model


def extractive(prompt: str) -> str:
    """A stand-in writer that copies the first quote: grounded by construction."""
    first = prompt.split("\n- ", 1)[1].split("\n", 1)[0]
    return f"The candidate said: {first}"


def test_the_evaluation_set_is_whole_and_an_extractive_writer_passes_it() -> None:
    items = summary_evaluation.items()
    assert len(items) >= 12 and all(len(i.quotes) == 3 and i.mentions for i in items)
    assert all(any(m.lower() in " ".join(i.quotes).lower() for m in i.mentions) for i in items)
    result = evaluate(extractive)
    assert result.passed and result.passing == len(items), [
        (i.competency, i.failures) for i in result.items if i.failures
    ]


ITEM = Item(
    "Driving adoption",
    "Gets customers to use what they bought.",
    ["Only 20 of their 200 licences were active.", "I ran two workshops per department."],
    ["workshops", "licences"],
)


@pytest.mark.parametrize(
    ("summary", "failure"),
    [
        ("", "empty"),
        ("The weather was pleasant and lunch was good.", "names nothing the quotes say"),
        ("She ran workshops and raised use to 90 percent.", "holds what the quotes do not: 90"),
        ("He ran workshops with Microsoft.", "holds what the quotes do not: Microsoft"),
        ("A confident candidate who ran workshops.", "judges the person: confident"),
        ("Ran workshops; I would rate this 4/5.", "judges the person: 4/5"),
        ("workshops " * 81, "81 words, over 80"),
    ],
)
def test_each_check_names_what_a_bad_summary_did(summary: str, failure: str) -> None:
    assert failure in check(ITEM, summary)


def test_a_grounded_summary_passes_every_check() -> None:
    assert check(ITEM, "Only 20 of 200 licences were active, so they ran two workshops.") == []


@pytest.fixture
def weak(tmp_path: Path, speech_models: Path) -> Path:
    return weak_model(tmp_path / "weak-llm", speech_models / "whisper-base" / "tokenizer.json")


def _import_llm(data_dir: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appliance", "models", "import-llm", "--data-dir", str(data_dir),
         *map(str, args)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip


def test_a_weak_model_is_refused_and_nothing_is_installed(runtime: Runtime, weak: Path) -> None:
    data_dir = runtime.config.data_dir
    done = _import_llm(data_dir, weak, "--name", "weak")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "weak was refused: it passed 0 of 12 items" in done.stderr
    assert done.stdout.count("names nothing the quotes say") == 12
    assert language_model.installed(runtime.config.models_dir) is None
    assert not list((runtime.config.models_dir / language_model.DIRECTORY).iterdir())
    (entry,) = AuditEntry.select().where(AuditEntry.action == "llm.evaluate")
    assert (entry.actor, entry.subject) == ("cli", "llm:weak")
    assert json.loads(entry.details) == {"passed": False, "passing": 0, "items": 12, "sha256": ""}


def test_a_directory_that_is_not_a_model_gets_one_line(runtime: Runtime, tmp_path: Path) -> None:
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    done = _import_llm(runtime.config.data_dir, empty)
    assert done.returncode == 1
    assert done.stderr.strip().endswith("has no genai_config.json: not a model packaged for "
                                        "onnxruntime-genai")  # fmt: skip
    (empty / "genai_config.json").write_text('{"model": {"decoder": {"filename": "gone.onnx"}}}')
    done = _import_llm(runtime.config.data_dir, empty)
    assert done.returncode == 1 and "names a model file that is not there" in done.stderr
    assert "Traceback" not in done.stderr
