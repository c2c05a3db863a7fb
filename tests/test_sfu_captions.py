"""The SFU's caption tap: each publisher's audio decoded beside the event loop, at 16 kHz."""

from pathlib import Path

from aiortc.contrib.media import MediaPlayer

from tests.support.sfu_harness import (
    PcmSink,
    Sfu,
    participant_id,
    run,
    until,
)


def test_the_caption_tap_hears_each_publisher_at_16_khz(clip: Path, tmp_path: Path) -> None:
    import numpy as np

    sink = PcmSink()
    heard: dict[str, int] = {}

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("bob") as bob, sfu.client("alice") as alice:
            await alice.publish(MediaPlayer(str(clip), decode=False))
            alice_id = participant_id(alice)
            await until(lambda: len(bob.frames_from(alice_id, "audio")) >= 100)
            heard["packets"] = len(bob.frames_from(alice_id, "audio"))

    run(scenario, tmp_path, captions=sink)
    samples = np.frombuffer(bytes(sink.pcm["alice"]), dtype=np.int16)
    assert len(samples) >= heard["packets"] * 320 * 0.9  # 20 ms packets at 16 kHz
    spectrum = np.abs(np.fft.rfft(samples[:16000].astype(np.float64)))
    assert abs(np.argmax(spectrum) - 440) < 5  # 1 s of samples: bin i is i Hz; the clip's tone
    # Decoding runs beside the event loop, never on it: forwarding must not wait for captions.
    assert sink.threads == {"captions-alice"}
    assert sink.finished == ["alice"]
