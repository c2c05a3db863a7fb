"""`appliance recordings`: import, transcripts, compliance export, and offline verify/decrypt
of bundles."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.asr_onnx.service import open_transcriber
from appliance.asr_onnx.transcript import FORMATS
from appliance.cli.common import Subparsers, opened
from appliance.cli.transcribe import ProgressBar
from appliance.db.models import Recording, RecordingBlob
from appliance.recordings import bundle, transcription
from appliance.recordings.store import get_recording, import_files
from appliance.storage.appliance_keys import load_public_key
from appliance.storage.recipients import load_identity


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("recordings", help="sealed recordings and compliance exports")
    actions = group.add_subparsers(dest="recordings_command", required=True, metavar="ACTION")

    imp = actions.add_parser(
        "import", parents=[common], help="seal existing media files as one recording"
    )
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--candidate-email", required=True)
    imp.add_argument("--interview", type=int, help="attach to this interview (default: a new one)")
    imp.set_defaults(func=run_import)

    listing = actions.add_parser("list", parents=[common], help="list recordings")
    listing.set_defaults(func=run_list)

    exp = actions.add_parser(
        "export", parents=[common], help="write a signed bundle for one compliance recipient"
    )
    exp.add_argument("recording_id", type=int, metavar="RECORDING_ID")
    exp.add_argument("--recipient", required=True, help="a parley-recipient-v1:… string")
    exp.add_argument("--out", required=True, help="bundle file to create")
    exp.add_argument(
        "--composite",
        action="store_true",
        help="add the single playable file (made now if need be) and the decision's record: "
        "consent answers, submitted scorecards and the decisions",
    )
    exp.set_defaults(func=run_export)

    signer_help = "the appliance's signing.pub; refuse bundles signed by any other key"
    dec = actions.add_parser(
        "decrypt", help="verify a bundle and write its recordings (needs no appliance)"
    )
    dec.add_argument("bundle", metavar="BUNDLE")
    dec.add_argument("--identity", required=True, help="the officer's identity file")
    dec.add_argument("--out", required=True, help="directory for the decrypted files")
    dec.add_argument("--signer", help=signer_help)
    dec.set_defaults(func=run_decrypt)

    tr = actions.add_parser(
        "transcribe", parents=[common], help="transcribe a recording now, with a progress bar"
    )
    tr.add_argument("recording_id", type=int, metavar="RECORDING_ID")
    tr.add_argument("--model", help="installed model name (default: the configured one)")
    tr.add_argument(
        "--queue", action="store_true", help="only queue it for the worker (again, if done)"
    )
    tr.set_defaults(func=run_transcribe)

    show = actions.add_parser("transcript", parents=[common], help="print a recording's transcript")
    show.add_argument("recording_id", type=int, metavar="RECORDING_ID")
    show.add_argument("--format", choices=sorted(FORMATS), default="txt")
    show.set_defaults(func=run_transcript)

    ver = actions.add_parser("verify", help="check a bundle without decrypting it")
    ver.add_argument("bundle", metavar="BUNDLE")
    ver.add_argument("--signer", help=signer_help)
    ver.set_defaults(func=run_verify)


def _signer(args: argparse.Namespace) -> Ed25519PublicKey | None:
    return load_public_key(Path(args.signer)) if args.signer else None


def run_import(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        recording = import_files(
            runtime, "cli", [Path(f) for f in args.files], args.candidate_email, args.interview
        )
        transcription.queue_transcription(recording)
    print(recording.id)
    return 0


def run_transcribe(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        recording = get_recording(args.recording_id)
        if args.queue:
            transcription.request_transcription(runtime, "cli", recording.id)
            print(f"recording {recording.id}: queued for transcription")
            return 0
        transcriber = open_transcriber(runtime.config.models_dir, runtime.config.asr, args.model)
        bar = ProgressBar(True, unit=" %")
        result = transcription.transcribe_recording(
            runtime, recording.id, transcriber, runtime.config.asr, lambda f: bar(f * 100, 100)
        )
    speakers = sorted({s.speaker or "" for s in result.segments})
    print(
        f"recording {args.recording_id}: {len(result.segments)} segments from "
        f"{len(speakers)} speakers, language {result.language or 'unknown'}"
    )
    return 0


def run_transcript(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        transcript = transcription.load_transcript(runtime, "cli", args.recording_id)
    sys.stdout.write(FORMATS[args.format](transcript))
    return 0


def run_list(args: argparse.Namespace) -> int:
    with opened(args):
        for recording in Recording.select().order_by(Recording.id):
            blobs = RecordingBlob.select().where(RecordingBlob.recording == recording).count()
            print(
                f"{recording.id}\tinterview {recording.interview_id}\t{recording.status}\t"
                f"{recording.source}\t{blobs} blobs\t{recording.started_at:%Y-%m-%d %H:%M}"
            )
    return 0


def run_export(args: argparse.Namespace) -> int:
    with opened(args) as runtime:
        report = bundle.export(
            runtime, "cli", args.recording_id, args.recipient, Path(args.out), args.composite
        )
    print(
        f"Wrote {args.out}: recording {report.recording_id}, {report.blobs} blobs, "
        f"{report.audit_entries} audit entries; signer {report.signer_fingerprint}"
    )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    report = bundle.verify(Path(args.bundle), _signer(args))
    print(
        f"OK: recording {report.recording_id}, {report.blobs} blobs, "
        f"{report.audit_entries} audit entries; signer {report.signer_fingerprint}"
    )
    if report.note_seq is not None:
        print(
            f"It carries the box's audit checkpoint at entry {report.note_seq} "
            f"({bundle.NOTE_FILE}): keep it, and `appliance audit verify --against` it later "
            "shows whether the box's log still holds what it held then."
        )
    return 0


def run_decrypt(args: argparse.Namespace) -> int:
    identity = load_identity(Path(args.identity))
    written = bundle.decrypt(Path(args.bundle), identity, Path(args.out), _signer(args))
    for path in written:
        print(path)
    return 0
