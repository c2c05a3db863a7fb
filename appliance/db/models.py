"""The data model: one peewee model per noun of the domain.

These classes describe the schema as the newest migration leaves it; `appliance.migrations`
builds and upgrades databases, and a test checks that both agree.
"""

from __future__ import annotations

import enum

import peewee

from appliance.db.database import database, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    RECRUITER = "recruiter"
    INTERVIEWER = "interviewer"
    COMPLIANCE = "compliance"


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Setting(BaseModel):
    key = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.TextField()


class User(BaseModel):
    id = peewee.AutoField()
    email = peewee.CharField(unique=True, max_length=254)
    name = peewee.CharField(max_length=200, default="")
    role = peewee.CharField(max_length=16)
    password_hash = peewee.CharField(max_length=200)
    active = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)
    totp_secret = peewee.CharField(max_length=64, null=True)
    failed_signins = peewee.IntegerField(default=0)
    locked_until = peewee.DateTimeField(null=True)
    # IANA zone the user's weekly availability is written in.
    timezone = peewee.CharField(max_length=64, default="UTC")
    # The TOTP time step of the last code accepted from this user: a code is good once.
    totp_last_step = peewee.BigIntegerField(default=0)
    # Set when an administrator chose the password: its owner must replace it to go on.
    must_change_password = peewee.BooleanField(default=False)
    # The OpenID Connect provider's `sub` for a user who signs in with single sign-on.
    oidc_subject = peewee.CharField(max_length=255, null=True, unique=True)


class Session(BaseModel):
    # Only the SHA-256 of the cookie's token is kept, so a database read yields no live session.
    token_hash = peewee.CharField(primary_key=True, max_length=64)
    user = peewee.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utcnow)
    last_seen_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    # Foreign-key id accessors peewee adds, declared for the type checker.
    user_id: int


class Position(BaseModel):
    id = peewee.AutoField()
    title = peewee.CharField(max_length=200)
    department = peewee.CharField(max_length=200, default="")
    location = peewee.CharField(max_length=200, default="")
    description = peewee.TextField(default="")
    status = peewee.CharField(max_length=16, default="open")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    # Who decides on this position's candidates (besides administrators); always a member of
    # its hiring team.
    hiring_manager = peewee.ForeignKeyField(
        User, null=True, backref="managed_positions", on_delete="SET NULL"
    )
    # Foreign-key id accessors peewee adds, declared for the type checker.
    hiring_manager_id: int | None


class HiringTeamMember(BaseModel):
    """Staff who may review and score a position's interviews without sitting on their panels
    (a hiring manager who was not in the room)."""

    id = peewee.AutoField()
    position = peewee.ForeignKeyField(Position, backref="hiring_team", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="hiring_teams", on_delete="CASCADE")
    added_at = peewee.DateTimeField(default=utcnow)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    position_id: int
    user_id: int

    class Meta:
        indexes = ((("position", "user"), True),)


class Candidate(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=200, index=True)
    email = peewee.CharField(max_length=254)
    phone = peewee.CharField(max_length=64, default="")
    position = peewee.ForeignKeyField(
        Position, null=True, backref="candidates", on_delete="SET NULL"
    )
    status = peewee.CharField(max_length=16, default="active")
    notes = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    erased_at = peewee.DateTimeField(null=True)
    decided_at = peewee.DateTimeField(null=True)
    legal_hold = peewee.BooleanField(default=False)
    hold_reason = peewee.TextField(default="")
    # The candidate's id in the system that sent them (an ATS), unique: the API upserts by it.
    external_id = peewee.CharField(max_length=200, null=True, unique=True)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    position_id: int | None


class Kit(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=200)
    description = peewee.TextField(default="")
    position = peewee.ForeignKeyField(Position, null=True, backref="kits", on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    position_id: int | None


class Competency(BaseModel):
    id = peewee.AutoField()
    kit = peewee.ForeignKeyField(Kit, backref="competencies", on_delete="CASCADE")
    name = peewee.CharField(max_length=200)
    description = peewee.TextField(default="")
    ordinal = peewee.IntegerField(default=0)
    # What a score of 1..5 means for this competency, one column per level.
    guide_1 = peewee.TextField(default="")
    guide_2 = peewee.TextField(default="")
    guide_3 = peewee.TextField(default="")
    guide_4 = peewee.TextField(default="")
    guide_5 = peewee.TextField(default="")
    # Foreign-key id accessors peewee adds, declared for the type checker.
    kit_id: int


class Question(BaseModel):
    id = peewee.AutoField()
    kit = peewee.ForeignKeyField(Kit, backref="questions", on_delete="CASCADE")
    competency = peewee.ForeignKeyField(Competency, backref="questions", on_delete="CASCADE")
    text = peewee.TextField()
    guidance = peewee.TextField(default="")
    ordinal = peewee.IntegerField(default=0)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    kit_id: int
    competency_id: int


class Interview(BaseModel):
    id = peewee.AutoField()
    # Null for interviews brought in from another system with no position attached.
    position = peewee.ForeignKeyField(
        Position, null=True, backref="interviews", on_delete="SET NULL"
    )
    candidate = peewee.ForeignKeyField(Candidate, backref="interviews", on_delete="CASCADE")
    kit = peewee.ForeignKeyField(Kit, null=True, backref="interviews", on_delete="SET NULL")
    starts_at = peewee.DateTimeField(index=True)
    ends_at = peewee.DateTimeField(index=True)
    status = peewee.CharField(max_length=16, default="scheduled")
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    # The candidate's time zone, for what they are shown and sent.
    timezone = peewee.CharField(max_length=64, default="UTC")
    # Calendar SEQUENCE: raised on every reschedule or cancellation so calendars update in place.
    sequence = peewee.IntegerField(default=0)
    # The live room: when the candidate came to the lobby, was let in, and the panel ended it.
    lobby_since = peewee.DateTimeField(null=True)
    admitted_at = peewee.DateTimeField(null=True)
    ended_at = peewee.DateTimeField(null=True)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    position_id: int | None
    candidate_id: int
    kit_id: int | None
    created_by_id: int | None


class InterviewParticipant(BaseModel):
    id = peewee.AutoField()
    interview = peewee.ForeignKeyField(Interview, backref="participants", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="participations", on_delete="CASCADE")
    role = peewee.CharField(max_length=16, default="interviewer")

    # Foreign-key id accessors peewee adds, declared for the type checker.
    interview_id: int
    user_id: int

    class Meta:
        indexes = ((("interview", "user"), True),)


class Consent(BaseModel):
    id = peewee.AutoField()
    interview = peewee.ForeignKeyField(Interview, backref="consents", on_delete="CASCADE")
    kind = peewee.CharField(max_length=32)
    granted = peewee.BooleanField()
    text_shown = peewee.TextField()
    decided_at = peewee.DateTimeField(default=utcnow)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    interview_id: int


class Scorecard(BaseModel):
    id = peewee.AutoField()
    interview = peewee.ForeignKeyField(Interview, backref="scorecards", on_delete="CASCADE")
    author = peewee.ForeignKeyField(User, backref="scorecards", on_delete="CASCADE")
    recommendation = peewee.CharField(max_length=16, null=True)
    summary = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
    submitted_at = peewee.DateTimeField(null=True)
    # The interviewer's private working notes, saved as they type during the interview.
    notes = peewee.TextField(default="")
    updated_at = peewee.DateTimeField(null=True)
    # How many times it was submitted: 0 while a draft, 2 and up once amended.
    version = peewee.IntegerField(default=0)
    # Written by someone who was not on the panel, from the recording.
    from_recording = peewee.BooleanField(default=False)
    # First submitted after a decision on the candidate was recorded.
    after_decision = peewee.BooleanField(default=False)

    # Foreign-key id accessors peewee adds, declared for the type checker.
    interview_id: int
    author_id: int

    class Meta:
        indexes = ((("interview", "author"), True),)


class CompetencyScore(BaseModel):
    id = peewee.AutoField()
    scorecard = peewee.ForeignKeyField(Scorecard, backref="scores", on_delete="CASCADE")
    competency = peewee.ForeignKeyField(Competency, on_delete="CASCADE")
    # 1..5, or None where the scorer marked the competency "not assessed".
    score = peewee.IntegerField(null=True, constraints=[peewee.Check("score BETWEEN 1 AND 5")])
    notes = peewee.TextField(default="")  # the scorer's rationale

    # Foreign-key id accessors peewee adds, declared for the type checker.
    scorecard_id: int
    competency_id: int

    class Meta:
        indexes = ((("scorecard", "competency"), True),)


class ScorecardVersion(BaseModel):
    """What a scorecard said each time it was submitted, kept whole for the audit trail: the
    first submission and every amendment, with the reason given for it."""

    id = peewee.AutoField()
    scorecard = peewee.ForeignKeyField(Scorecard, backref="versions", on_delete="CASCADE")
    number = peewee.IntegerField()
    submitted_at = peewee.DateTimeField(default=utcnow)
    reason = peewee.TextField(default="")  # why it was amended; empty for the first
    # JSON: recommendation, summary, and per competency id its score (or null) and rationale.
    content = peewee.TextField()
    # Foreign-key id accessors peewee adds, declared for the type checker.
    scorecard_id: int

    class Meta:
        indexes = ((("scorecard", "number"), True),)


class Decision(BaseModel):
    """A hiring decision on a candidate for a position. A change is a new row; the newest is
    the decision in force, the older ones its history."""

    id = peewee.AutoField()
    candidate = peewee.ForeignKeyField(Candidate, backref="decisions", on_delete="CASCADE")
    position = peewee.ForeignKeyField(
        Position, null=True, backref="decisions", on_delete="SET NULL"
    )
    outcome = peewee.CharField(max_length=16)  # advance, reject, offer, hold
    reason = peewee.TextField()
    decided_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    decided_at = peewee.DateTimeField(default=utcnow)
    # The decider chose to decide before every panel member had submitted a scorecard.
    without_all_scorecards = peewee.BooleanField(default=False)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    candidate_id: int
    position_id: int | None
    decided_by_id: int | None


class QuestionAsked(BaseModel):
    """A question of the kit that this scorecard's author marked as asked."""

    id = peewee.AutoField()
    scorecard = peewee.ForeignKeyField(Scorecard, backref="asked", on_delete="CASCADE")
    question = peewee.ForeignKeyField(Question, on_delete="CASCADE")
    asked_at = peewee.DateTimeField(default=utcnow)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    scorecard_id: int
    question_id: int

    class Meta:
        indexes = ((("scorecard", "question"), True),)


class Recording(BaseModel):
    """One recorded session of an interview; its tracks and derived objects are its blobs."""

    id = peewee.AutoField()
    interview = peewee.ForeignKeyField(Interview, backref="recordings", on_delete="CASCADE")
    status = peewee.CharField(max_length=16, default="recording")
    source = peewee.CharField(max_length=16, default="live")
    started_at = peewee.DateTimeField(default=utcnow)
    ended_at = peewee.DateTimeField(null=True)
    # The keystore entry whose data key seals every blob of this recording; null once erased.
    key_id = peewee.CharField(max_length=32, null=True, index=True)
    # The SFU node that writes a live recording: its restart interrupts what it was writing.
    sfu_node = peewee.CharField(max_length=100, default="")
    # Foreign-key id accessors peewee adds, declared for the type checker.
    interview_id: int


class RecordingBlob(BaseModel):
    """A sealed object in the blob store: a participant's track, a transcript, captions."""

    id = peewee.AutoField()
    recording = peewee.ForeignKeyField(Recording, backref="blobs", on_delete="CASCADE")
    object_id = peewee.CharField(max_length=32, unique=True)
    participant_identity = peewee.CharField(max_length=200)
    kind = peewee.CharField(max_length=16)
    filename = peewee.CharField(max_length=255, default="")
    media_type = peewee.CharField(max_length=100, default="application/octet-stream")
    plaintext_bytes = peewee.BigIntegerField(default=0)
    sealed_sha256 = peewee.CharField(max_length=64, default="")
    status = peewee.CharField(max_length=16, default="writing")
    created_at = peewee.DateTimeField(default=utcnow)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    recording_id: int


class DataKey(BaseModel):
    """One wrapping of a data key: for the appliance's KEK or for one compliance recipient."""

    id = peewee.AutoField()
    key_id = peewee.CharField(max_length=32, index=True)
    recipient = peewee.CharField(max_length=200)
    wrapped = peewee.BlobField()
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("key_id", "recipient"), True),)


class ComplianceRecipient(BaseModel):
    """A compliance officer's public key; every new data key is also wrapped for it."""

    id = peewee.AutoField()
    recipient = peewee.CharField(max_length=200, unique=True)
    label = peewee.CharField(max_length=200, default="")
    added_at = peewee.DateTimeField(default=utcnow)


class Comment(BaseModel):
    """A remark on a moment (or, with `end_ms`, a span) of a recording, or a reply to one. The
    text is sealed under the recording's data key, like its transcript, so erasing the
    recording erases it too."""

    id = peewee.AutoField()
    interview = peewee.ForeignKeyField(Interview, backref="comments", on_delete="CASCADE")
    recording = peewee.ForeignKeyField(
        Recording, null=True, backref="comments", on_delete="CASCADE"
    )
    author = peewee.ForeignKeyField(User, backref="comments", on_delete="CASCADE")
    parent = peewee.ForeignKeyField("self", null=True, backref="replies", on_delete="CASCADE")
    offset_ms = peewee.IntegerField(null=True)  # on the recording's clock
    end_ms = peewee.IntegerField(null=True)
    body_sealed = peewee.BlobField()
    created_at = peewee.DateTimeField(default=utcnow)
    edited_at = peewee.DateTimeField(null=True)
    deleted_at = peewee.DateTimeField(null=True)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    interview_id: int
    recording_id: int | None
    author_id: int
    parent_id: int | None


class CommentVersion(BaseModel):
    """A comment's text before each edit or its deletion, kept for the audit trail."""

    id = peewee.AutoField()
    comment = peewee.ForeignKeyField(Comment, backref="versions", on_delete="CASCADE")
    body_sealed = peewee.BlobField()
    replaced_at = peewee.DateTimeField(default=utcnow)
    comment_id: int


class TranscriptSegment(BaseModel):
    id = peewee.AutoField()
    recording = peewee.ForeignKeyField(Recording, backref="segments", on_delete="CASCADE")
    speaker = peewee.CharField(max_length=200)
    start_ms = peewee.IntegerField()
    end_ms = peewee.IntegerField()
    # Sealed with the recording's data key, like every object derived from a recording.
    sealed_text = peewee.BlobField()
    # Foreign-key id accessors peewee adds, declared for the type checker.
    recording_id: int


class SearchTerm(BaseModel):
    """One distinct word of a recording's transcript, for search: the word only as a keyed hash
    (HMAC under a key derived from the recording's data key), with the transcript segments it
    occurs in. No word is stored readable, and erasing the recording's key leaves every term
    of it unmatchable (docs/threat-model.md)."""

    id = peewee.AutoField()
    recording = peewee.ForeignKeyField(Recording, backref="search_terms", on_delete="CASCADE")
    term = peewee.BlobField(index=True)
    # The ids of the transcript segments that hold the word (search_index.pack).
    segments = peewee.BlobField()
    # Foreign-key id accessors peewee adds, declared for the type checker.
    recording_id: int


class AvailabilityRule(BaseModel):
    """A weekly window an interviewer can interview in, in their own time zone."""

    id = peewee.AutoField()
    user = peewee.ForeignKeyField(User, backref="availability", on_delete="CASCADE")
    weekday = peewee.IntegerField()  # 0 Monday … 6 Sunday
    start_minute = peewee.IntegerField()  # minutes after local midnight
    end_minute = peewee.IntegerField()
    # Foreign-key id accessors peewee adds, declared for the type checker.
    user_id: int


class TimeOff(BaseModel):
    """An exception to the weekly availability: never schedule in [starts_at, ends_at) UTC."""

    id = peewee.AutoField()
    user = peewee.ForeignKeyField(User, backref="time_off", on_delete="CASCADE")
    starts_at = peewee.DateTimeField()
    ends_at = peewee.DateTimeField()
    note = peewee.CharField(max_length=200, default="")
    # Foreign-key id accessors peewee adds, declared for the type checker.
    user_id: int


class InterviewType(BaseModel):
    """What a candidate is invited to: a kit, a length and a panel."""

    id = peewee.AutoField()
    name = peewee.CharField(max_length=200)
    kit = peewee.ForeignKeyField(Kit, null=True, backref="interview_types", on_delete="SET NULL")
    duration_minutes = peewee.IntegerField()
    created_at = peewee.DateTimeField(default=utcnow)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    kit_id: int | None


class PanelMember(BaseModel):
    id = peewee.AutoField()
    interview_type = peewee.ForeignKeyField(InterviewType, backref="panel", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="panels", on_delete="CASCADE")
    # Foreign-key id accessors peewee adds, declared for the type checker.
    interview_type_id: int
    user_id: int

    class Meta:
        indexes = ((("interview_type", "user"), True),)


class Invitation(BaseModel):
    """A candidate's link, to book and then to join the interview.

    The token is an HMAC, under a key derived from the appliance's signing key, of `nonce`: the
    appliance can put the link in every reminder, while the database alone (which stores only
    the token's SHA-256) yields no working link.
    """

    id = peewee.AutoField()
    candidate = peewee.ForeignKeyField(Candidate, backref="invitations", on_delete="CASCADE")
    interview_type = peewee.ForeignKeyField(
        InterviewType, backref="invitations", on_delete="CASCADE"
    )
    token_hash = peewee.CharField(max_length=64, unique=True)
    nonce = peewee.CharField(max_length=32)
    status = peewee.CharField(max_length=16, default="open")  # open, booked, cancelled
    interview = peewee.ForeignKeyField(
        Interview, null=True, backref="invitations", on_delete="SET NULL"
    )
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    # When the candidate last opened the link and was offered no time; None once times show.
    no_times_at = peewee.DateTimeField(null=True)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    candidate_id: int
    interview_type_id: int
    interview_id: int | None
    created_by_id: int | None


class OutboxMessage(BaseModel):
    """An e-mail to send (or, with no SMTP relay, for a recruiter to send by hand)."""

    id = peewee.AutoField()
    interview = peewee.ForeignKeyField(
        Interview, null=True, backref="messages", on_delete="CASCADE"
    )
    recipient = peewee.CharField(max_length=254)
    subject = peewee.CharField(max_length=300)
    body = peewee.TextField()
    ics = peewee.TextField(default="")
    # A stable key ("reminder-24h:12:candidate") so a message is created once, whatever restarts.
    dedupe_key = peewee.CharField(max_length=120, null=True, unique=True)
    status = peewee.CharField(
        max_length=16, default="pending", index=True
    )  # pending, sent, manual, failed, sent_by_hand
    attempts = peewee.IntegerField(default=0)
    error = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
    sent_at = peewee.DateTimeField(null=True)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    interview_id: int | None


class CalendarFeed(BaseModel):
    """An interviewer's private ICS feed; only the token's SHA-256 is stored."""

    id = peewee.AutoField()
    user = peewee.ForeignKeyField(User, unique=True, backref="calendar_feed", on_delete="CASCADE")
    token_hash = peewee.CharField(max_length=64, unique=True)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    user_id: int


class TranscriptionJob(BaseModel):
    """The batch transcription of one recording: queued when the recording ends."""

    id = peewee.AutoField()
    recording = peewee.ForeignKeyField(
        Recording, unique=True, backref="transcription_jobs", on_delete="CASCADE"
    )
    status = peewee.CharField(max_length=16, default="queued")  # queued, running, done, failed
    progress = peewee.FloatField(default=0.0)  # 0..1 of the recording's audio
    model = peewee.CharField(max_length=100, default="")
    error = peewee.TextField(default="")
    queued_at = peewee.DateTimeField(default=utcnow)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    recording_id: int


class CompositeJob(BaseModel):
    """Composing a recording's tracks into one playable file (recordings/composite.py):
    requested from the review page, made by the worker at low priority."""

    id = peewee.AutoField()
    recording = peewee.ForeignKeyField(
        Recording, unique=True, backref="composite_jobs", on_delete="CASCADE"
    )
    status = peewee.CharField(max_length=16, default="queued")  # queued, running, done, failed
    progress = peewee.FloatField(default=0.0)  # 0..1 of the recording's length
    error = peewee.TextField(default="")
    requested_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    queued_at = peewee.DateTimeField(default=utcnow)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    recording_id: int
    requested_by_id: int | None


class EvidenceFeature(BaseModel):
    """The figures of a recording's evidence for one competency (numbers only, no text): what
    the rubric suggestion learns from and predicts on (evidence/suggestion.py)."""

    id = peewee.AutoField()
    recording = peewee.ForeignKeyField(Recording, backref="evidence_features", on_delete="CASCADE")
    competency = peewee.ForeignKeyField(
        Competency, backref="evidence_features", on_delete="CASCADE"
    )
    best_score = peewee.FloatField()
    relevant_turns = peewee.IntegerField()
    relevant_share = peewee.FloatField()  # of the candidate's speech, 0..1
    # Foreign-key id accessors peewee adds, declared for the type checker.
    recording_id: int
    competency_id: int

    class Meta:
        indexes = ((("recording", "competency"), True),)


class RubricModel(BaseModel):
    """A competency's suggestion model, learnt from this box's submitted scores, with its
    agreement with human scorers on held-out interviews."""

    id = peewee.AutoField()
    competency = peewee.ForeignKeyField(
        Competency, unique=True, backref="rubric_models", on_delete="CASCADE"
    )
    trained_at = peewee.DateTimeField(default=utcnow)
    interviews = peewee.IntegerField()  # scored interviews with evidence it learnt from
    kappa = peewee.FloatField(null=True)  # quadratic-weighted, held-out; None: too few to tell
    mae = peewee.FloatField(null=True)
    weights = peewee.TextField()  # JSON: feature means, scales, coefficients, intercept
    # Foreign-key id accessors peewee adds, declared for the type checker.
    competency_id: int


class SelfIdentification(BaseModel):
    """What a candidate chose to say about themselves for the impact-ratio report, sealed with
    a data key of its own (destroyed with the candidate's data); never shown to scorers."""

    id = peewee.AutoField()
    candidate = peewee.ForeignKeyField(
        Candidate, unique=True, backref="self_identifications", on_delete="CASCADE"
    )
    key_id = peewee.CharField(max_length=64)
    sealed = peewee.BlobField()
    given_at = peewee.DateTimeField(default=utcnow)
    # Foreign-key id accessors peewee adds, declared for the type checker.
    candidate_id: int


class ApiToken(BaseModel):
    """A token an administrator made for a system that calls the API (an ATS): only its
    SHA-256 is kept; its scopes say what it may do."""

    id = peewee.AutoField()
    name = peewee.CharField(max_length=100, unique=True)
    token_hash = peewee.CharField(max_length=64, unique=True)
    scopes = peewee.CharField(max_length=400)  # space-separated
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    last_used_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)


class IdempotentRequest(BaseModel):
    """A create made through the API with an `Idempotency-Key`: sent again with the same key
    and body, the stored answer is given again and nothing is made twice."""

    id = peewee.AutoField()
    token = peewee.ForeignKeyField(ApiToken, on_delete="CASCADE")
    key = peewee.CharField(max_length=200)
    request_sha256 = peewee.CharField(max_length=64)
    status = peewee.IntegerField()
    response = peewee.TextField()  # JSON
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("token", "key"), True),)


class WebhookEndpoint(BaseModel):
    """An address an administrator connected: the events it asked for are POSTed to it, signed
    with its secret as the Standard Webhooks specification says."""

    id = peewee.AutoField()
    url = peewee.CharField(max_length=2000)
    events = peewee.CharField(max_length=400)  # space-separated
    secret = peewee.CharField(max_length=100)  # whsec_...: kept, as it signs every delivery
    # May reach loopback and link-local addresses (refused otherwise: the box's own network).
    allow_internal = peewee.BooleanField(default=False)
    enabled = peewee.BooleanField(default=True)
    disabled_reason = peewee.CharField(max_length=300, default="")
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)


class WebhookEvent(BaseModel):
    """Something that happened, as sent: written in the same transaction as the change it
    reports, so no change goes unreported and none is reported that did not happen."""

    id = peewee.AutoField()
    message_id = peewee.CharField(max_length=40, unique=True)  # webhook-id, on every attempt
    kind = peewee.CharField(max_length=40)
    payload = peewee.TextField()  # the JSON body exactly as signed and sent
    created_at = peewee.DateTimeField(default=utcnow)


class WebhookDelivery(BaseModel):
    """One event on its way to one endpoint: retried with backoff until it is answered 2xx or
    a day has passed."""

    id = peewee.AutoField()
    endpoint = peewee.ForeignKeyField(WebhookEndpoint, backref="deliveries", on_delete="CASCADE")
    event = peewee.ForeignKeyField(WebhookEvent, backref="deliveries", on_delete="CASCADE")
    status = peewee.CharField(max_length=16, default="pending")  # pending, delivered, failed
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DateTimeField(index=True)
    # A sender that takes the delivery holds it until then; one that dies lets it go by itself.
    claimed_until = peewee.DateTimeField(null=True)
    last_attempt_at = peewee.DateTimeField(null=True)
    last_status_code = peewee.IntegerField(null=True)
    last_error = peewee.CharField(max_length=300, default="")
    delivered_at = peewee.DateTimeField(null=True)


class WebhookAttempt(BaseModel):
    """One try of a delivery, for the endpoint's delivery log."""

    id = peewee.AutoField()
    delivery = peewee.ForeignKeyField(WebhookDelivery, backref="tries", on_delete="CASCADE")
    at = peewee.DateTimeField(default=utcnow)
    status_code = peewee.IntegerField(null=True)
    error = peewee.CharField(max_length=300, default="")
    milliseconds = peewee.IntegerField(default=0)


class SsoAttempt(BaseModel):
    """A single sign-on begun in a browser: what the callback must match, used once."""

    state_hash = peewee.CharField(primary_key=True, max_length=64)
    nonce = peewee.CharField(max_length=64)
    code_verifier = peewee.CharField(max_length=128)
    next_path = peewee.CharField(max_length=2000, default="/")
    created_at = peewee.DateTimeField(default=utcnow)


class CalendarConnection(BaseModel):
    """An interviewer's calendar, read by the worker so self-scheduling never offers a time
    they are busy in: a CalDAV account, or an ICS address."""

    id = peewee.AutoField()
    user = peewee.ForeignKeyField(User, backref="calendars", unique=True, on_delete="CASCADE")
    kind = peewee.CharField(max_length=8)  # caldav, ics
    url = peewee.CharField(max_length=2000)
    username = peewee.CharField(max_length=200, default="")
    # The CalDAV password, sealed with a key derived from the appliance's (AES-GCM).
    sealed_password = peewee.BlobField(null=True)
    connected_at = peewee.DateTimeField(default=utcnow)
    last_attempt_at = peewee.DateTimeField(null=True)
    last_read_at = peewee.DateTimeField(null=True)
    # Why the last read failed, and since when reads fail; empty and None while they work.
    last_error = peewee.CharField(max_length=300, default="")
    failing_since = peewee.DateTimeField(null=True)


class BusyTime(BaseModel):
    """A time the calendar's owner is busy, as last read from it."""

    id = peewee.AutoField()
    connection = peewee.ForeignKeyField(CalendarConnection, backref="busy", on_delete="CASCADE")
    starts_at = peewee.DateTimeField(index=True)
    ends_at = peewee.DateTimeField()


class AuditEntry(BaseModel):
    seq = peewee.IntegerField(primary_key=True)
    at = peewee.CharField(max_length=32)
    actor = peewee.CharField(max_length=254)
    action = peewee.CharField(max_length=64)
    subject = peewee.CharField(max_length=254)
    details = peewee.TextField()
    prev_hash = peewee.CharField(max_length=64)
    entry_hash = peewee.CharField(max_length=64)


class AuditCheckpoint(BaseModel):
    id = peewee.AutoField()
    seq = peewee.IntegerField(unique=True)
    entry_hash = peewee.CharField(max_length=64)
    at = peewee.CharField(max_length=32)
    signature = peewee.CharField(max_length=128)


ALL_MODELS: list[type[BaseModel]] = [
    Setting,
    User,
    Session,
    Position,
    HiringTeamMember,
    Candidate,
    Kit,
    Competency,
    Question,
    Interview,
    InterviewParticipant,
    Consent,
    Scorecard,
    CompetencyScore,
    ScorecardVersion,
    Decision,
    QuestionAsked,
    Recording,
    RecordingBlob,
    DataKey,
    ComplianceRecipient,
    Comment,
    CommentVersion,
    TranscriptSegment,
    SearchTerm,
    AuditEntry,
    AuditCheckpoint,
    TranscriptionJob,
    CompositeJob,
    AvailabilityRule,
    TimeOff,
    InterviewType,
    PanelMember,
    Invitation,
    OutboxMessage,
    CalendarFeed,
    EvidenceFeature,
    RubricModel,
    SelfIdentification,
    ApiToken,
    IdempotentRequest,
    WebhookEndpoint,
    WebhookEvent,
    WebhookDelivery,
    WebhookAttempt,
    SsoAttempt,
    CalendarConnection,
    BusyTime,
]
