"""Property-based fuzzing of the parsers that take outside input: whatever arrives, the answer
is one documented refusal (or the right data), never an unhandled exception: signaling
messages, SDP, sealed blobs, and export bundles (damaged bytes, and manifests that are signed
but malformed).

A time-boxed run (FUZZ_EXAMPLES each) is part of the test suite; for a longer one set
PARLEY_FUZZ_EXAMPLES, e.g. 20000 (docs/operations.md, "Fuzzing")."""

from __future__ import annotations

import asyncio
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from appliance.contracts.join_token import issue
from appliance.core.config import SfuConfig
from appliance.core.errors import ApplianceError
from appliance.core.ratelimit import AddressLimiter
from appliance.recordings import bundle
from appliance.recordings.store import import_files
from appliance.runtime import Runtime
from appliance.sfu.ice import rtc_configuration
from appliance.sfu.peer import media_kinds, parse_sdp
from appliance.sfu.protocol import SignalingError
from appliance.sfu.room import Rooms
from appliance.sfu.signaling import Session
from appliance.storage.recipients import Identity, generate_identity
from appliance.storage.sealed import SealedReader, SealError, SealWriter

FUZZ_EXAMPLES = int(os.environ.get("PARLEY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KEY = bytes(range(32))
KEY_ID = bytes(16)
OBJECT_ID = bytes(range(16))
CHUNK = 1024


class _Socket:
    """The aiohttp websocket's sending side, which the session writes to: what it was sent."""

    def __init__(self) -> None:
        self.closed = False
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def close(self) -> None:
        self.closed = True


SIGNING = Ed25519PrivateKey.generate()
MESSAGE_TYPES = ["join", "publish", "subscribe-answer", "end", "leave", "hello", ""]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
sdp_like = st.builds(
    lambda lines: "v=0\r\n" + "\r\n".join(lines) + "\r\n",
    st.lists(
        st.sampled_from(
            ["m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:0",
             "a=rtpmap:111 opus/48000/2", "a=ice-ufrag:x", "a=fingerprint:sha-256 00",
             "a=setup:actpass", "c=IN IP4 0.0.0.0", "o=- 0 0 IN IP4 127.0.0.1", "s=-", "t=0 0",
             "a=group:BUNDLE 0 1", "a=sendonly", "a=rtcp-mux"]
        ) | st.text(max_size=60),
        max_size=14,
    ),
)  # fmt: skip
messages = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda kind, fields, sdp: json.dumps({**fields, "type": kind, "sdp": sdp}),
        st.sampled_from(MESSAGE_TYPES),
        st.dictionaries(st.sampled_from(["token", "room", "sdp", "x"]), json_values, max_size=3),
        sdp_like | st.text(max_size=80),
    ),
    json_values.map(json.dumps),
)


@FUZZ
@given(before_join=st.lists(messages, max_size=4), after_join=st.lists(messages, max_size=6))
def test_any_signaling_message_gets_a_documented_answer(
    before_join: list[str], after_join: list[str]
) -> None:
    async def scenario() -> list[dict[str, Any]]:
        config = SfuConfig(ice_loopback_only=True)
        rooms = Rooms(config, rtc_configuration(config))
        socket = _Socket()
        session = Session(
            rooms, SIGNING.public_key(), socket, AddressLimiter(6000, 1000), "192.0.2.1"
        )  # type: ignore[arg-type]
        token = issue(SIGNING, "fuzz", "ivy", "interviewer", 600)
        try:
            for text in [*before_join, json.dumps({"type": "join", "token": token}), *after_join]:
                await session.handle(text)
        finally:
            await session.close()
            await rooms.close()
        return socket.sent

    for sent in asyncio.run(scenario()):
        assert sent["type"] != "error" or (
            isinstance(sent["code"], str) and sent["code"] != "internal"
        ), sent


@FUZZ
@given(sdp=sdp_like | st.text(max_size=400))
def test_any_offer_is_parsed_or_refused_as_bad_sdp(sdp: str) -> None:
    for parse in (media_kinds, lambda text: parse_sdp(text, "offer")):
        try:
            parse(sdp)
        except SignalingError as exc:
            assert exc.code == "bad-sdp"


def edits_within(size: int) -> st.SearchStrategy[list[tuple[str, int, bytes]]]:
    """One to three edits (for `_damaged`) at offsets up to about `size`."""
    return st.lists(
        st.tuples(
            st.sampled_from(["flip", "cut", "insert"]),
            st.integers(0, size),
            st.binary(min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=3,
    )


def _damaged(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    """`data` with each edit applied in turn: a byte flipped, the rest cut off, or bytes
    inserted, at an offset taken modulo the length so far."""
    damaged = bytearray(data)
    for kind, offset, value in edits:
        at = offset % (len(damaged) + 1)
        if kind == "flip" and at < len(damaged):
            damaged[at] ^= value[0] or 1
        elif kind == "cut":
            del damaged[at:]
        else:
            damaged[at:at] = value
    return bytes(damaged)


def _sealed(data: bytes) -> bytes:
    with tempfile.TemporaryFile() as out:
        writer = SealWriter(out, KEY, KEY_ID, OBJECT_ID, CHUNK, durable=False)
        writer.write(data)
        writer.close()
        out.seek(0)
        return out.read()


@FUZZ
@given(
    data=st.binary(max_size=5 * CHUNK),
    edits=edits_within(7000),
    window=st.tuples(st.integers(0, 6000), st.integers(0, 3000)),
)
def test_a_damaged_sealed_blob_reads_right_or_is_refused(
    data: bytes, edits: list[tuple[str, int, bytes]], window: tuple[int, int]
) -> None:
    original = _sealed(data)
    blob = _damaged(original, edits)
    try:
        reader = SealedReader(io.BytesIO(blob), KEY, KEY_ID, OBJECT_ID)
        whole = b"".join(reader.stream())
        part = reader.read_range(*window)
    except SealError:
        return
    # Read without complaint: it must be the sealed data, whatever was done to the bytes.
    assert blob == original or (whole == data and part == data[window[0] :][: window[1]])
    assert whole == data and part == data[window[0] :][: window[1]]


@pytest.fixture
def exported(runtime: Runtime, tmp_path: Path) -> tuple[bytes, Identity, bytes]:
    """One recording's export bundle (a 9 kB file in small chunks), the officer's identity,
    the plaintext."""
    runtime.config.storage.chunk_size = CHUNK
    content = bytes(range(256)) * 36
    media = tmp_path / "answer.ogg"
    media.write_bytes(content)
    recording = import_files(runtime, "test", [media], "alex@example.com", None)
    identity = generate_identity()
    out = tmp_path / "case.bundle"
    bundle.export(runtime, "test", recording.id, identity.recipient, out)
    return out.read_bytes(), identity, content


def _open_bundle(data: bytes, identity: Identity, content: bytes) -> None:
    """Verify and decrypt `data` as a bundle: a documented refusal, or exactly `content`."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "case.bundle"
        path.write_bytes(data)
        try:
            bundle.verify(path)
            written = bundle.decrypt(path, identity, Path(scratch) / "out")
        except ApplianceError as exc:
            event(f"refused: {type(exc).__name__}")
            assert not (Path(scratch) / "out").exists() or not any(
                (Path(scratch) / "out").iterdir()
            )
            return
        event("decrypted")
        assert [p.read_bytes() for p in written] == [content]


FUZZ_WITH_FIXTURES = settings(
    FUZZ, suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture]
)


@FUZZ_WITH_FIXTURES
@given(edits=edits_within(40_000))
def test_a_damaged_bundle_is_refused_or_decrypts_exactly(
    exported: tuple[bytes, Identity, bytes], edits: list[tuple[str, int, bytes]]
) -> None:
    whole, identity, content = exported
    _open_bundle(_damaged(whole, edits), identity, content)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document: each key of each object, each item of each list."""
    found = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*path, index))
    return found


@FUZZ_WITH_FIXTURES
@given(
    changes=st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(["replace", "delete"]), json_values),
        min_size=1,
        max_size=3,
    )
)
def test_a_signed_but_malformed_manifest_is_refused(
    runtime: Runtime,
    exported: tuple[bytes, Identity, bytes],
    changes: list[tuple[int, str, Any]],
) -> None:
    """The appliance's own key signs a manifest it never wrote (as a stolen key could): the
    reader must still refuse every malformed part clearly, not trip over it."""
    whole, identity, content = exported
    with tarfile.open(fileobj=io.BytesIO(whole)) as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]
    manifest = json.loads(members[bundle.MANIFEST])
    for pick, action, value in changes:
        places = [p for p in _paths(manifest) if p]
        if not places:
            break
        *parents, last = places[pick % len(places)]
        holder = manifest
        for step in parents:
            holder = holder[step]
        if action == "delete":
            del holder[last]
        else:
            holder[last] = value
    body = json.dumps(manifest).encode()
    members[bundle.MANIFEST] = body
    members[bundle.SIGNATURE] = (
        runtime.keys.signing_key.sign(bundle.SIGNATURE_DOMAIN + body).hex().encode()
    )
    rebuilt = io.BytesIO()
    with tarfile.open(fileobj=rebuilt, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    _open_bundle(rebuilt.getvalue(), identity, content)
