"""The SFU's signaling with real aiortc peers on loopback: joins, leaves, the room's events,
refusals and bad input (docs/signaling.md)."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc.contrib.media import MediaPlayer

from tests.support.sfu_harness import (
    Sfu,
    participant_id,
    run,
    until,
)


def test_rejoining_with_the_same_identity_replaces_the_old_connection(tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with (
            sfu.client("bob") as bob,
            sfu.client("alice") as first,
            sfu.client("alice") as second,
        ):
            left = await bob.expect("participant-left")
            assert left["participant_id"] == participant_id(first)
            assert left["reason"] == "rejoined"
            health = await (await sfu.session.get(sfu.url + "/healthz")).json()
            assert health["participants"] == 2
            assert participant_id(second) != participant_id(first)

    run(scenario, tmp_path)


def test_the_room_announces_people_and_refuses_out_of_turn_messages(
    clip: Path, tmp_path: Path
) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with (
            sfu.client("bob", name="Bob B.") as bob,
            sfu.client("alice", name="Alice A.", role="candidate") as alice,
        ):
            arrived = (await bob.expect("participant-joined"))["participant"]
            assert (arrived["identity"], arrived["name"], arrived["role"]) == (
                "alice",
                "Alice A.",
                "candidate",
            )
            joined = next(e for e in alice.events if e["type"] == "joined")
            assert [(p["identity"], p["name"]) for p in joined["participants"]] == [
                ("bob", "Bob B.")
            ]
            await alice.send({"type": "join", "token": sfu.token("alice")})
            assert (await alice.expect("error"))["code"] == "already-joined"
            await alice.send({"type": "subscribe-answer", "sdp": "v=0\r\n"})
            assert (await alice.expect("error"))["code"] == "unexpected"
            await alice.publish(MediaPlayer(str(clip), decode=False))
            await alice.send({"type": "publish", "sdp": "v=0\r\nm=audio 9 UDP 0\r\n"})
            assert (await alice.expect("error"))["code"] == "already-publishing"
            async with sfu.client("carol", join=False) as carol:
                await carol.send({"type": "join", "token": sfu.token("carol")})
                assert (await carol.expect("error"))["code"] == "room-full"
            await alice.send({"type": "leave"})
            left = await bob.expect("participant-left")
            assert (left["participant_id"], left["reason"]) == (
                arrived["participant_id"],
                "left",
            )
            await until(lambda: alice.ws.closed)

    run(scenario, tmp_path, settings={"APPLIANCE_SFU_MAX_PARTICIPANTS": "2"})


def test_a_full_sfu_refuses_a_new_room_but_admits_to_open_ones(tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("ivy", room="first"), sfu.client("ian", room="second"):
            async with sfu.client("alex", room="third", join=False) as refused:
                await refused.send({"type": "join", "token": sfu.token("alex", "third")})
                assert (await refused.expect("error"))["code"] == "busy"
            async with sfu.client("amy", room="first"):
                pass  # joining a room already open is fine

    run(scenario, tmp_path, settings={"APPLIANCE_SFU_MAX_ROOMS": "2"})


def test_consent_and_role_gate_publishing(clip: Path, tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("cand", role="candidate", consent_required=True) as candidate:
            joined = next(e for e in candidate.events if e["type"] == "joined")
            assert joined["can_publish"] is False and joined["recording"] is False
            await candidate.send({"type": "publish", "sdp": "v=0\r\nm=audio 9 UDP 0\r\n"})
            assert (await candidate.expect("error"))["code"] == "consent-required"
        async with sfu.client("watcher", role="observer") as observer:
            await observer.send({"type": "publish", "sdp": "v=0\r\n"})
            assert (await observer.expect("error"))["code"] == "forbidden"

    run(scenario, tmp_path)


@asynccontextmanager
async def healthy_room(sfu: Sfu, clip: Path) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """A room where alice publishes to bob; yields a check that her video still reaches him."""
    async with (
        sfu.client("alice", room="healthy") as alice,
        sfu.client("bob", room="healthy") as bob,
    ):
        await alice.publish(MediaPlayer(str(clip), decode=False))
        alice_id = participant_id(alice)
        await until(lambda: len(bob.frames_from(alice_id, "video")) >= 3)

        async def keeps_flowing() -> None:
            before = len(bob.frames_from(alice_id, "video"))
            await until(lambda: len(bob.frames_from(alice_id, "video")) > before + 10)

        yield keeps_flowing


UNPARSABLE_OFFERS = [
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF\r\n",
    "v=0\r\nm=audio x UDP/TLS/RTP/SAVPF 111\r\n",
    "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96\r\n",
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 0.0.0.0\r\na=ssrc:zz cname:x\r\n",
]


async def _errors(ws: aiohttp.ClientWebSocketResponse, payload: str) -> dict[str, object]:
    await ws.send_str(payload)
    reply = await ws.receive(timeout=10)
    return json.loads(reply.data)  # type: ignore[no-any-return]


def test_bad_input_gets_clear_errors_and_other_rooms_keep_working(
    clip: Path, tmp_path: Path
) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with healthy_room(sfu, clip) as keeps_flowing:
            ws = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
            assert (await _errors(ws, "{not json"))["code"] == "bad-json"
            for deep in ("[" * 60_000, '{"a":' * 20_000, "[" * 60_000 + "]" * 60_000):
                assert (await _errors(ws, deep))["code"] == "bad-json"
            assert (await _errors(ws, "[1, 2]"))["code"] == "bad-message"
            assert (await _errors(ws, '{"type": "dance"}'))["code"] == "unknown-type"
            publish = json.dumps({"type": "publish", "sdp": "v=0"})
            assert (await _errors(ws, publish))["code"] == "not-joined"
            wrong = json.dumps({"type": "join", "token": sfu.token("eve", room="a"), "room": "b"})
            assert (await _errors(ws, wrong))["code"] == "wrong-room"
            good = json.dumps({"type": "join", "token": sfu.token("eve", room="bad-room")})
            assert (await _errors(ws, good))["type"] == "joined"
            for sdp in [
                "garbage",
                "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
                "v=0\r\n" + "a=x\r\n" * 14000,
                # Lines aiortc's own parser rejects (with an assert, a ValueError, ...).
                *UNPARSABLE_OFFERS,
            ]:
                reply = await _errors(ws, json.dumps({"type": "publish", "sdp": sdp}))
                assert reply["code"] == "bad-sdp" and reply["message"], reply
            expired = sfu.token("eve", room="bad-room", now=time.time() - 601)
            reply = await _errors(ws, json.dumps({"type": "join", "token": expired}))
            assert reply["code"] == "already-joined"
            await ws.send_str("x" * 200_000)
            closing = await ws.receive(timeout=10)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

            for token, why in [
                ("forged.token", "signature"),
                (sfu.token("eve")[:-4] + "AAAA", "signature"),
                ("a" * 5000, "malformed"),
                (sfu.token("eve", now=time.time() - 601), "expired"),
            ]:
                attempt = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
                reply = await _errors(attempt, json.dumps({"type": "join", "token": token}))
                assert reply["code"] == "bad-token" and why in str(reply["message"]), reply
                await attempt.close()

            # A subscriber whose answer to the SFU's offer cannot be used is told so.
            mallory = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
            await mallory.send_json({"type": "join", "token": sfu.token("mallory", "healthy")})
            async with asyncio.timeout(10):
                while (await mallory.receive_json())["type"] != "subscribe-offer":
                    pass
            await mallory.send_json({"type": "subscribe-answer", "sdp": UNPARSABLE_OFFERS[0]})
            async with asyncio.timeout(10):
                while (reply := await mallory.receive_json())["type"] != "error":
                    pass
            assert reply["code"] == "bad-sdp" and "answer" in reply["message"], reply
            await mallory.close()
            await keeps_flowing()

    run(scenario, tmp_path)


def test_a_subscriber_whose_answer_cannot_be_used_is_offered_everything_afresh(
    clip: Path, tmp_path: Path
) -> None:
    """An answer that parses but that aiortc refuses (here: no ICE credentials) is reported;
    the SFU forgets what it offered, so the next offer, on a new connection, has every track."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    def ufrag(sdp: str) -> str:
        return next(line for line in sdp.splitlines() if line.startswith("a=ice-ufrag:"))

    async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while (message := await ws.receive_json())["type"] != kind:
                pass
        return dict(message)

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("alice") as alice:
            await alice.publish(MediaPlayer(str(clip), decode=False))
            mallory = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
            await mallory.send_json({"type": "join", "token": sfu.token("mallory")})
            first = await next_of(mallory, "subscribe-offer")
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            await pc.setRemoteDescription(RTCSessionDescription(first["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            crippled = "".join(
                line + "\r\n"
                for line in pc.localDescription.sdp.splitlines()
                if not line.startswith(("a=ice-ufrag:", "a=ice-pwd:"))
            )
            await mallory.send_json({"type": "subscribe-answer", "sdp": crippled})
            error = await next_of(mallory, "error")
            assert (error["code"], error["request"]) == ("bad-sdp", "subscribe-answer"), error
            await pc.close()
            async with sfu.client("bob") as bob:
                await bob.publish(MediaPlayer(str(clip), decode=False))
                tracks = await next_of(mallory, "tracks")
                second = await next_of(mallory, "subscribe-offer")
                publishers = {participant_id(alice), participant_id(bob)}
                assert {t["participant_id"] for t in tracks["tracks"]} == publishers
                assert len(tracks["tracks"]) == 4
                assert ufrag(second["sdp"]) != ufrag(first["sdp"])  # a new connection
            await mallory.close()

    run(scenario, tmp_path)


def test_an_offer_without_a_usable_codec_is_refused(tmp_path: Path) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("alice") as alice:
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            transceiver = pc.addTransceiver("video", direction="sendonly")
            capabilities = RTCRtpSender.getCapabilities("video")
            assert capabilities is not None
            transceiver.setCodecPreferences(
                [c for c in capabilities.codecs if c.mimeType == "video/H264"]
            )
            await pc.setLocalDescription(await pc.createOffer())
            await alice.send({"type": "publish", "sdp": pc.localDescription.sdp})
            error = await alice.expect("error")
            assert error["code"] == "no-codec" and "VP8" in error["message"]
            await pc.close()

    run(scenario, tmp_path, settings={"APPLIANCE_SFU_VIDEO_CODECS": "VP8"})


def test_an_empty_room_closes_after_the_grace_period(tmp_path: Path) -> None:
    async def health(sfu: Sfu) -> dict[str, int]:
        return dict(await (await sfu.session.get(sfu.url + "/healthz")).json())

    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("alice", room="short-lived"):
            assert (await health(sfu))["rooms"] == 1
        async with asyncio.timeout(5):
            while (now := await health(sfu))["participants"] > 0:
                await asyncio.sleep(0.05)
        assert now["rooms"] == 1  # empty, and held open for someone who dropped out to return
        await asyncio.sleep(1.5)
        assert (await health(sfu))["rooms"] == 0

    run(scenario, tmp_path)


def test_a_flood_of_join_attempts_is_refused_and_other_rooms_keep_working(
    clip: Path, tmp_path: Path
) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with healthy_room(sfu, clip) as keeps_flowing:
            codes = []
            for _ in range(40):
                ws = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
                reply = await _errors(ws, json.dumps({"type": "join", "token": "forged.token"}))
                codes.append(reply["code"])
                await ws.close()
            assert "rate-limited" in codes and codes[0] == "bad-token"
            await keeps_flowing()

    run(scenario, tmp_path)


def test_a_replaced_connection_can_no_longer_publish(tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("alice") as first, sfu.client("alice"):
            # The replaced page is told so, unasked, so that it stops instead of rejoining.
            replaced = await first.expect("error")
            assert replaced["code"] == "replaced" and "request" not in replaced
            await first.send({"type": "publish", "sdp": "v=0\r\nm=audio 9 UDP 0\r\n"})
            assert (await first.expect("error"))["code"] == "not-joined"

    run(scenario, tmp_path)


def test_offers_with_two_tracks_of_one_kind_are_refused() -> None:
    from appliance.sfu.peer import media_kinds
    from appliance.sfu.protocol import SignalingError

    assert media_kinds("v=0\r\nm=audio 9 X 0\r\nm=video 9 X 96\r\n") == ["audio", "video"]
    with pytest.raises(SignalingError):
        media_kinds("v=0\r\nm=video 9 X 96\r\nm=video 9 X 96\r\n")


def test_the_panel_ends_the_room_for_everyone_and_it_cannot_be_joined_again(
    tmp_path: Path,
) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with (
            sfu.client("ivy", room="interview-9") as ivy,
            sfu.client("alex", room="interview-9", role="candidate") as alex,
        ):
            await alex.send({"type": "end"})
            assert (await alex.expect("error"))["code"] == "forbidden"
            await ivy.send({"type": "end"})
            ended = await alex.expect("room-ended")
            assert ended["by"] == "ivy"
        async with sfu.client("alex", room="interview-9", role="candidate", join=False) as again:
            await again.send(
                {"type": "join", "token": sfu.token("alex", "interview-9", "candidate")}
            )
            assert (await again.expect("error"))["code"] == "room-ended"
        async with sfu.client("ivy", room="interview-10"):
            pass  # other rooms are untouched

    run(scenario, tmp_path)


def test_a_room_the_web_app_ended_closes_and_stays_closed_after_a_restart(
    tmp_path: Path,
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from appliance.contracts.ended_rooms import ended_rooms_dir, record_end
    from tests.support.sfu_harness import running_sfu

    records = ended_rooms_dir(tmp_path)
    key = Ed25519PrivateKey.generate()

    async def join_error(sfu: Sfu, room: str) -> str:
        async with sfu.client("alex", room=room, role="candidate", join=False) as again:
            await again.send({"type": "join", "token": sfu.token("alex", room, "candidate")})
            event = await again.expect("joined", "error")
            return str(event.get("code", event["type"]))

    async def main() -> None:
        async with running_sfu(tmp_path, key=key) as sfu:
            early = sfu.token("alex", "interview-9", "candidate")
            async with (
                sfu.client("ivy", room="interview-9") as ivy,
                sfu.client("alex", room="interview-9", role="candidate") as alex,
                sfu.client("kim", room="interview-10") as kim,
            ):
                # A record another key signed ends nothing.
                record_end(records, Ed25519PrivateKey.generate(), "interview-10", "Mallory")
                record_end(records, key, "interview-9", "Ivy Panel")
                for person in (ivy, alex):
                    assert (await person.expect("room-ended"))["by"] == "Ivy Panel"
                health = await (await sfu.session.get(sfu.url + "/healthz")).json()
                assert (health["rooms"], health["participants"]) == (1, 1)  # Kim's alone
                assert not kim.ws.closed
            async with sfu.client("alex", room="interview-9", join=False) as late:
                await late.send({"type": "join", "token": early})
                assert (await late.expect("error"))["code"] == "room-ended"
            assert await join_error(sfu, "interview-10") == "joined"
        async with running_sfu(tmp_path, key=key) as restarted:
            assert await join_error(restarted, "interview-9") == "room-ended"
            assert await join_error(restarted, "interview-10") == "joined"

    asyncio.run(main())


def test_idle_and_excess_connections_are_refused_and_health_keeps_answering(
    tmp_path: Path,
) -> None:
    async def refused(sfu: Sfu, forwarded_for: str) -> int:
        with pytest.raises(aiohttp.WSServerHandshakeError) as failed:
            await sfu.session.ws_connect(
                sfu.url + "/sfu/ws", headers={"X-Forwarded-For": forwarded_for}
            )
        return failed.value.status

    async def scenario(sfu: Sfu) -> None:
        idle = await sfu.session.ws_connect(sfu.url + "/sfu/ws")
        message = await idle.receive_json(timeout=5)
        assert message["code"] == "join-timeout"
        closing = await idle.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        held = [
            await sfu.session.ws_connect(sfu.url + "/sfu/ws", headers={"X-Forwarded-For": address})
            for address in ("192.0.2.1", "192.0.2.1", "192.0.2.2")
        ]
        assert await refused(sfu, "192.0.2.1") == 429  # two per address
        assert len(held) == 3
        held.append(
            await sfu.session.ws_connect(
                sfu.url + "/sfu/ws", headers={"X-Forwarded-For": "192.0.2.3"}
            )
        )
        assert await refused(sfu, "192.0.2.4") == 503  # four in all
        health = await sfu.session.get(sfu.url + "/healthz")
        assert health.status == 200 and (await health.json())["connections"] == 4
        for ws in held:
            await ws.close()
        await until(lambda: all(ws.closed for ws in held))
        async with sfu.client("ivy") as ivy:  # room again: a valid join goes through
            assert any(e["type"] == "joined" for e in ivy.events)

    run(
        scenario,
        tmp_path,
        settings={
            "APPLIANCE_SFU_JOIN_TIMEOUT_SECONDS": "1",
            "APPLIANCE_SFU_MAX_CONNECTIONS_PER_ADDRESS": "2",
            "APPLIANCE_SFU_MAX_CONNECTIONS": "4",
        },
    )


def test_the_sfus_pages_carry_security_headers_and_name_no_server_software(
    tmp_path: Path,
) -> None:
    async def scenario(sfu: Sfu) -> None:
        for path in ("/healthz", "/sfu/test.html", "/sfu/nowhere"):
            reply = await sfu.session.get(sfu.url + path)
            assert reply.headers["Server"] == "Parley", path
            assert reply.headers["X-Content-Type-Options"] == "nosniff"
            assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
            assert "aiohttp" not in str(reply.headers) and "Python" not in str(reply.headers)

    run(scenario, tmp_path)
