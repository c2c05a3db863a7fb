"""Comments on a recording: on a moment, or on a span of the transcript, with one level of
replies. Everyone who may review the interview sees them; only their author edits or deletes
one, and every earlier text is kept as a version, audited, never replaced silently.

The text is sealed under the recording's data key (storage/sealed_fields.py), like the
transcript it talks about: erasing the candidate erases it with the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from peewee import fn

from appliance.core import validation
from appliance.core.config import Config
from appliance.core.errors import ApplianceError, Gone, NotAllowed, NotFound
from appliance.db.database import utcnow
from appliance.db.models import Comment, CommentVersion, Recording, TranscriptSegment, User
from appliance.hiring import mailer
from appliance.hiring.candidates import display_name
from appliance.hiring.scheduling import may_see
from appliance.recordings.store import get_recording
from appliance.runtime import Runtime
from appliance.storage import keystore
from appliance.storage.sealed_fields import open_text, seal_text

MAX_BODY = validation.TEXT
MENTION = re.compile(r"@([\w.+-]+(?:@[\w.-]+)?)")


@dataclass(frozen=True)
class CommentView:
    id: int
    parent_id: int | None
    author: str
    author_id: int
    at_ms: int
    end_ms: int | None
    body: str  # empty once deleted
    created_at: str
    edited: bool
    deleted: bool


def _data_key(runtime: Runtime, recording: Recording) -> tuple[bytes, bytes]:
    if recording.status == "erased" or recording.key_id is None:
        raise Gone(f"recording {recording.id} was erased; its comments went with it")
    key_id = bytes.fromhex(recording.key_id)
    return key_id, keystore.unwrap(runtime.config.data_dir, key_id)


def _context(comment_id: int, recording_id: int) -> str:
    return f"comment:{comment_id}:recording:{recording_id}"


def _seal(runtime: Runtime, recording: Recording, comment_id: int, text: str) -> bytes:
    key_id, data_key = _data_key(runtime, recording)
    return seal_text(data_key, key_id, _context(comment_id, recording.id), text)


def _clean_body(body: str) -> str:
    return validation.text("Comment", body, MAX_BODY, required=True)


def _check_moment(recording: Recording, at_ms: int, end_ms: int | None) -> None:
    """A moment lies within the recording; a span within its transcript."""
    spoken = (
        TranscriptSegment.select(fn.MAX(TranscriptSegment.end_ms))
        .where(TranscriptSegment.recording == recording)
        .scalar()
    ) or 0
    wall = 0
    if recording.ended_at is not None:
        wall = int((recording.ended_at - recording.started_at).total_seconds() * 1000)
    length = max(spoken, wall)
    if not 0 <= at_ms <= length:
        raise ApplianceError(
            f"the moment {at_ms / 1000:.1f} s is outside the recording (0 to {length / 1000:.1f} s)"
        )
    if end_ms is not None and not at_ms < end_ms <= spoken:
        raise ApplianceError("a span starts before it ends, within the transcript")


def add(
    runtime: Runtime,
    author: User,
    recording_id: int,
    body: str,
    at_ms: int,
    end_ms: int | None = None,
    parent_id: int | None = None,
) -> Comment:
    """A new comment at `at_ms` (to `end_ms` for a span) of the recording, or a reply to
    `parent_id` (which sits at its parent's moment). Mentions are e-mailed."""
    recording = get_recording(recording_id)
    text = _clean_body(body)
    if parent_id is not None:
        parent = Comment.get_or_none((Comment.id == parent_id) & (Comment.recording == recording))
        if parent is None or parent.parent_id is not None:
            raise NotFound(f"no comment {parent_id} to reply to on this recording")
        at_ms, end_ms = parent.offset_ms or 0, parent.end_ms
    _check_moment(recording, at_ms, end_ms)
    with runtime.db.atomic():
        comment = Comment.create(
            interview=recording.interview_id,
            recording=recording,
            author=author,
            parent=parent_id,
            offset_ms=at_ms,
            end_ms=end_ms,
            body_sealed=b"",
        )
        comment.body_sealed = _seal(runtime, recording, comment.id, text)
        comment.save()
        runtime.audit.record(
            author.email,
            "comment.add",
            f"recording:{recording.id}",
            {"comment": comment.id, "at_ms": at_ms, "reply_to": parent_id},
        )
        _mention(runtime.config, author, recording, comment, text)
    return comment


def _mention(
    config: Config, author: User, recording: Recording, comment: Comment, text: str
) -> None:
    """E-mail each active staff member named with @name or @e-mail who may review this
    interview. The message holds the link, not the comment: its text stays on the box."""
    wanted = {m.lower() for m in MENTION.findall(text)}
    if not wanted:
        return
    interview = recording.interview
    link = f"{config.public_url}/interviews/{interview.id}/review#comment-{comment.id}"
    for user in User.select().where(User.active):
        handles = {user.email.lower(), user.email.split("@")[0].lower()}
        if user.name:
            handles.add("".join(user.name.split()).lower())
            handles.add(user.name.split()[0].lower())
        if user.id == author.id or not handles & wanted or not may_see(user, interview.id):
            continue
        mailer.queue_message(
            user.email,
            f"{author.name or author.email} mentioned you in a review",
            f"{author.name or author.email} mentioned you in a comment on the recording of the "
            f"interview with {display_name(interview.candidate)}.\n\nOpen it: {link}\n",
            interview=interview,
            dedupe_key=f"mention:{comment.id}:{user.id}",
        )


def get_comment(comment_id: int) -> Comment:
    comment: Comment | None = Comment.get_or_none(Comment.id == comment_id)
    if comment is None or comment.recording_id is None:
        raise NotFound(f"no comment {comment_id}")
    return comment


def view(runtime: Runtime, comment_id: int) -> CommentView:
    """One comment as `thread` shows it."""
    comment = get_comment(comment_id)
    assert comment.recording_id is not None  # get_comment refuses the others
    return next(v for v in thread(runtime, comment.recording_id) if v.id == comment_id)


def _own(user: User, comment_id: int) -> tuple[Comment, Recording]:
    comment = get_comment(comment_id)
    assert comment.recording_id is not None  # get_comment refuses the others
    if comment.author_id != user.id:
        raise NotAllowed("only its author can change a comment")
    if comment.deleted_at is not None:
        raise ApplianceError("this comment was deleted")
    return comment, get_recording(comment.recording_id)


def _keep_version(comment: Comment) -> None:
    CommentVersion.create(comment=comment, body_sealed=comment.body_sealed)


def edit(runtime: Runtime, user: User, comment_id: int, body: str) -> Comment:
    """The author rewrites their comment; the text before is kept as a version."""
    comment, recording = _own(user, comment_id)
    text = _clean_body(body)
    with runtime.db.atomic():
        _keep_version(comment)
        comment.body_sealed = _seal(runtime, recording, comment.id, text)
        comment.edited_at = utcnow()
        comment.save()
        runtime.audit.record(
            user.email, "comment.edit", f"recording:{recording.id}", {"comment": comment.id}
        )
    return comment


def delete(runtime: Runtime, user: User, comment_id: int) -> None:
    """The author withdraws their comment: it shows as deleted; its text is kept as a version."""
    comment, recording = _own(user, comment_id)
    with runtime.db.atomic():
        _keep_version(comment)
        comment.body_sealed = _seal(runtime, recording, comment.id, "")
        comment.deleted_at = utcnow()
        comment.save()
        runtime.audit.record(
            user.email, "comment.delete", f"recording:{recording.id}", {"comment": comment.id}
        )


def thread(runtime: Runtime, recording_id: int) -> list[CommentView]:
    """Every comment of the recording: top-level ones by moment, each followed by its replies
    in order."""
    recording = get_recording(recording_id)
    key_id, data_key = _data_key(runtime, recording)
    rows = list(
        Comment.select(Comment, User)
        .join(User)
        .where(Comment.recording == recording)
        .order_by(Comment.offset_ms, Comment.id)
    )
    views = {
        row.id: CommentView(
            row.id,
            row.parent_id,
            row.author.name or row.author.email,
            row.author_id,
            row.offset_ms or 0,
            row.end_ms,
            open_text(data_key, key_id, _context(row.id, recording.id), bytes(row.body_sealed)),
            f"{row.created_at:%Y-%m-%d %H:%M}",
            row.edited_at is not None,
            row.deleted_at is not None,
        )
        for row in rows
    }
    ordered = []
    for view in views.values():
        if view.parent_id is None:
            ordered.append(view)
            ordered.extend(
                sorted((v for v in views.values() if v.parent_id == view.id), key=lambda v: v.id)
            )
    return ordered
