"""Whisper's log-mel front end in numpy: 25 ms Hann windows every 10 ms, Slaney mel filters,
log10 clamped to 8 decades below the loudest bin, scaled to about [-1, 1]."""

from __future__ import annotations

from functools import cache

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
CHUNK_SECONDS = 30
N_SAMPLES = CHUNK_SECONDS * SAMPLE_RATE
N_FRAMES = N_SAMPLES // HOP_LENGTH  # 3000 frames of 10 ms in one window
FRAME_SECONDS = HOP_LENGTH / SAMPLE_RATE


@cache
def mel_filters(n_mels: int) -> np.ndarray:
    """Slaney-style triangular filters over the FFT bins, as librosa builds them."""
    fft_freqs = np.fft.rfftfreq(n=N_FFT, d=1.0 / SAMPLE_RATE)
    min_log_hz = 1000.0
    f_sp = 200.0 / 3
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    max_mel = min_log_mel + np.log(SAMPLE_RATE / 2 / min_log_hz) / logstep
    mels = np.linspace(0.0, max_mel, n_mels + 2)
    freqs = f_sp * mels
    log_region = mels >= min_log_mel
    freqs[log_region] = min_log_hz * np.exp(logstep * (mels[log_region] - min_log_mel))
    ramps = freqs.reshape(-1, 1) - fft_freqs.reshape(1, -1)
    spacing = np.diff(freqs)
    lower = -ramps[:-2] / spacing[:-1, None]
    upper = ramps[2:] / spacing[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (freqs[2 : n_mels + 2] - freqs[:n_mels]))[:, None]
    return weights.astype(np.float32)


@cache
def _hann() -> np.ndarray:
    return np.hanning(N_FFT + 1)[:-1].astype(np.float32)


def log_mel(audio: np.ndarray, n_mels: int = 80, padding: int = HOP_LENGTH) -> np.ndarray:
    """[n_mels, frames] for 16 kHz mono float audio; one frame per 10 ms of input."""
    samples = np.asarray(audio, dtype=np.float32)
    if padding:
        samples = np.pad(samples, (0, padding))
    half = N_FFT // 2
    if samples.size <= half:
        samples = np.pad(samples, (0, half + 1 - samples.size))
    padded = np.pad(samples, (half, half), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH]
    spectrum = np.fft.rfft(frames * _hann(), axis=-1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)[:-1]
    mel = mel_filters(n_mels) @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    scaled: np.ndarray = ((log_spec + 4.0) / 4.0).astype(np.float32)
    return scaled


def pad_or_trim(mel: np.ndarray, frames: int = N_FRAMES) -> np.ndarray:
    if mel.shape[-1] >= frames:
        return np.asarray(mel[..., :frames])
    return np.pad(mel, [(0, 0)] * (mel.ndim - 1) + [(0, frames - mel.shape[-1])])
