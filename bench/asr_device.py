"""Speed of the Whisper-base-shaped graphs on whatever execution providers this machine offers.

Run: python bench/asr_device.py [--windows 20]

For machines the model files cannot reach (a lent GPU box with no network): the graphs are built
from random weights of Whisper base's shapes, which run exactly as fast as the real ones. Prints
the providers first, then the encoder's seconds per 30 s window and the decoder's milliseconds per
token (greedy, and a 5-beam step), each against the CPU provider measured in the same run, the
encoder's time per window in batches of four (live captions' batching) against one at a time, and
the real-time factor of a 60-minute recording at 2 tokens per second of speech.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

print("providers:", ort.get_available_providers(), flush=True)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.asr_onnx.builder import build_decoder, build_encoder  # noqa: E402
from appliance.asr_onnx.checkpoint import Checkpoint, Dims  # noqa: E402
from appliance.asr_onnx.engine import WhisperEngine  # noqa: E402

DIMS = Dims(80, 1500, 448, 512, 8, 6, 6, 51865)


def random_checkpoint() -> Checkpoint:
    rng = np.random.default_rng(0)
    d, tensors = DIMS, {}

    def add(name: str, *shape: int) -> None:
        tensors[name] = (rng.standard_normal(shape) * 0.02).astype(np.float32)

    add("encoder/conv1/weight", d.n_state, d.n_mels, 3)
    add("encoder/conv1/bias", d.n_state)
    add("encoder/conv2/weight", d.n_state, d.n_state, 3)
    add("encoder/conv2/bias", d.n_state)
    add("encoder/position_encodings/encodings", d.n_audio_ctx, d.n_state)
    add("decoder/position_encodings/encodings", d.n_text_ctx, d.n_state)
    add("decoder/embeddings/weight", d.n_vocab, d.n_state)
    for side, layers in (("encoder", d.n_encoder_layers), ("decoder", d.n_decoder_layers)):
        norms = [f"{side}/layer_norm"]
        for i in range(layers):
            p = f"{side}/layer_{i}"
            add(f"{p}/self_attention/linear_0/weight", 3 * d.n_state, d.n_state)
            add(f"{p}/self_attention/linear_0/bias", 3 * d.n_state)
            add(f"{p}/self_attention/linear_1/weight", d.n_state, d.n_state)
            add(f"{p}/self_attention/linear_1/bias", d.n_state)
            add(f"{p}/ffn/linear_0/weight", 4 * d.n_state, d.n_state)
            add(f"{p}/ffn/linear_0/bias", 4 * d.n_state)
            add(f"{p}/ffn/linear_1/weight", d.n_state, 4 * d.n_state)
            add(f"{p}/ffn/linear_1/bias", d.n_state)
            norms += [f"{p}/self_attention/layer_norm", f"{p}/ffn/layer_norm"]
            if side == "decoder":
                add(f"{p}/attention/linear_0/weight", d.n_state, d.n_state)
                add(f"{p}/attention/linear_0/bias", d.n_state)
                add(f"{p}/attention/linear_1/weight", 2 * d.n_state, d.n_state)
                add(f"{p}/attention/linear_1/bias", 2 * d.n_state)
                add(f"{p}/attention/linear_2/weight", d.n_state, d.n_state)
                add(f"{p}/attention/linear_2/bias", d.n_state)
                norms.append(f"{p}/attention/layer_norm")
        for n in norms:
            tensors[f"{n}/gamma"] = np.ones(d.n_state, np.float32)
            tensors[f"{n}/beta"] = np.zeros(d.n_state, np.float32)
    heads = [(3, 1), (4, 2), (4, 3), (4, 7), (5, 1), (5, 2), (5, 4), (5, 6)]
    return Checkpoint(DIMS, tensors, heads, [], [], "random")


def measure(model_dir: Path, device: str, dtype: type, windows: int) -> dict[str, float]:
    engine = WhisperEngine(model_dir, device=device, threads=os.cpu_count() or 1, dtype=dtype)
    mel = np.random.default_rng(1).standard_normal((1, 80, 3000)).astype(np.float32)
    engine.encode(mel)
    start = time.perf_counter()
    for _ in range(windows):
        audio = engine.encode(mel)
    encoder = (time.perf_counter() - start) / windows
    result = {"encoder_s": encoder}
    # Live captions' batching: four utterances through the encoder at once, split per window.
    four = np.repeat(mel, 4, axis=0)
    engine.split(engine.encode(four))
    start = time.perf_counter()
    for _ in range(max(1, windows // 4)):
        engine.split(engine.encode(four))
    result["batch4_s"] = (time.perf_counter() - start) / (4 * max(1, windows // 4))
    for rows, key in ((1, "greedy_ms"), (5, "beam5_ms")):
        state = engine.empty_state(1)
        _, state, _ = engine.step(audio, state, np.array([[50258, 50259, 50359]]))
        reorder = np.zeros(rows, dtype=np.int64)
        tokens = np.full((rows, 1), 440, dtype=np.int64)
        start = time.perf_counter()
        steps = 100
        for _ in range(steps):
            _, state, _ = engine.step(audio, state, tokens, reorder)
            reorder = np.arange(rows, dtype=np.int64)
        result[key] = (time.perf_counter() - start) / steps * 1000
    result["providers"] = engine.providers  # type: ignore[assignment]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=20)
    args = parser.parse_args()
    checkpoint = random_checkpoint()
    runs = [("cpu", np.float32, "fp32")]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        runs += [("cuda", np.float32, "fp32"), ("cuda", np.float16, "fp16")]
    else:
        print("CUDA execution provider: not offered by this onnxruntime; measuring CPU only")
    print(f"cpu cores: {os.cpu_count()}")
    baseline = None
    with tempfile.TemporaryDirectory() as scratch:
        for device, dtype, variant in runs:
            directory = Path(scratch) / variant
            if not directory.exists():
                directory.mkdir()
                (directory / "encoder.onnx").write_bytes(
                    build_encoder(checkpoint, dtype).SerializeToString()
                )
                (directory / "decoder.onnx").write_bytes(
                    build_decoder(checkpoint, dtype).SerializeToString()
                )
            r = measure(directory, device, dtype, args.windows)
            baseline = baseline or r
            # 60 minutes: 120 windows of 30 s; at 2 tokens per second, 60 greedy steps per window.
            total = 120 * (r["encoder_s"] + 60 * r["greedy_ms"] / 1000)
            speedup = baseline["encoder_s"] / r["encoder_s"]
            print(f"{device}/{variant}: encoder {r['encoder_s']*1000:.1f} ms/window "
                  f"({speedup:.1f}x cpu), greedy step {r['greedy_ms']:.2f} ms, "
                  f"beam-5 step {r['beam5_ms']:.2f} ms; encoder in batches of 4 "
                  f"{r['batch4_s']*1000:.1f} ms/window ({r['encoder_s'] / r['batch4_s']:.2f}x one "
                  f"at a time); 60-min recording ≈ {total:.0f} s, "
                  f"RTF {total / 3600:.4f}; providers {r['providers']}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
