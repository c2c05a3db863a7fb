"""The one configuration loader: defaults, then `appliance.toml`, then `APPLIANCE_*` variables.

Every key is declared in a dataclass below; an unknown key, in the file or the environment,
is an error that names it, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appliance.core.errors import ApplianceError

ENV_PREFIX = "APPLIANCE_"
# Variables that choose where the configuration lives rather than being part of it.
RESERVED_ENV = {"APPLIANCE_DATA_DIR", "APPLIANCE_CONFIG"}


def _int(default: int, low: int, high: int) -> int:
    """An integer setting that must lie in [low, high]."""
    return dataclasses.field(default=default, metadata={"range": (low, high)})


def _choice(default: str, *others: str) -> str:
    """A string setting that must be one of the listed words."""
    return dataclasses.field(default=default, metadata={"choices": (default, *others)})


def _absolute_path() -> str:
    """A path setting: empty (the default place) or absolute, never relative to wherever a
    service happened to start."""
    return dataclasses.field(default="", metadata={"absolute": True})


@dataclasses.dataclass
class WebConfig:
    host: str = "127.0.0.1"
    port: int = _int(8080, 1, 65535)
    # The address people use to reach the appliance; links in setup URLs and invitations use it.
    public_url: str = ""
    # Whether /healthz also reports the SFU and the worker (when all run on this box).
    report_services: bool = False
    # Where the box's own reverse proxy reads cert.pem and key.pem; empty: TLS is terminated by
    # a proxy Parley does not manage, and administrators cannot upload a certificate.
    tls_dir: str = ""


@dataclasses.dataclass
class SfuConfig:
    host: str = "127.0.0.1"
    port: int = _int(8081, 1, 65535)
    # Comma-separated stun:/turn: URLs handed to WebRTC; none by default, so an air-gapped box
    # never contacts a public STUN server.
    ice_servers: str = ""
    # The signaling websocket's URL as browsers must use it (wss://host/sfu/ws, or a path such
    # as /sfu/ws on the page's own origin); empty: the web origin's /sfu/ws when [web]
    # public_url is set (the box's proxy), else this port directly.
    public_url: str = ""
    turn_username: str = ""
    turn_password: str = ""
    # Test-only: gather ICE candidates on 127.0.0.1 alone (aioice skips loopback otherwise).
    ice_loopback_only: bool = False
    # UDP ports media may use, "40000-40999", for a firewall that opens a range; empty: any
    # ephemeral port. Each peer connection takes one per address of the box: a participant
    # who sends and receives, on a box with one address, takes two.
    udp_ports: str = ""
    room_grace_seconds: int = _int(30, 0, 3600)
    max_participants: int = _int(12, 2, 100)
    # Rooms this SFU holds at once; 0: no limit. Past its CPU, every room's frame rate
    # collapses at once, so a box should refuse the room too many instead (bench/sfu.py
    # measures what it holds; docs/operations.md, "Sizing").
    max_rooms: int = _int(0, 0, 10_000)
    # Video codecs a publisher may send, in order of preference: the first one its offer has
    # is used. VP8 plays everywhere; H.264 suits devices that encode it in hardware.
    video_codecs: str = "VP8,H264"
    # This SFU's name among the box's nodes; empty: the host name. A node that restarts closes
    # the recordings it was writing as interrupted, keeping what reached the disk.
    node: str = ""
    # Join attempts allowed per client address (a burst, then this many a minute).
    join_burst: int = _int(30, 1, 10_000)
    joins_per_minute: int = _int(60, 1, 100_000)
    # A signaling connection that has not joined a room this long after opening is closed.
    join_timeout_seconds: int = _int(10, 1, 300)
    # Open signaling connections allowed per client address, and in all; 0 in all: as many as
    # the process's open-file limit leaves room for (see server.connection_budget).
    max_connections_per_address: int = _int(100, 1, 100_000)
    max_connections: int = _int(0, 0, 1_000_000)


@dataclasses.dataclass
class DatabaseConfig:
    # Empty: SQLite in the data dir. Otherwise a peewee URL, e.g. postgresql://user@host/parley.
    url: str = ""


@dataclasses.dataclass
class QueueConfig:
    # Empty: huey on SQLite in the data dir. Otherwise redis://host:6379/0.
    url: str = ""
    workers: int = _int(2, 1, 64)


@dataclasses.dataclass
class AuthConfig:
    session_idle_minutes: int = _int(120, 1, 7 * 24 * 60)
    session_max_hours: int = _int(12, 1, 30 * 24)
    lockout_attempts: int = _int(5, 1, 100)
    lockout_minutes: int = _int(15, 1, 7 * 24 * 60)
    # Sign-in attempts allowed per client address (a burst, then this many a minute), whatever
    # the account: a flood is refused before any password is hashed.
    signin_burst: int = _int(20, 1, 10_000)
    signins_per_minute: int = _int(30, 1, 100_000)
    # Calls allowed per API token (a burst, then this many a minute); past them 429 with
    # Retry-After.
    api_burst: int = _int(60, 1, 100_000)
    api_calls_per_minute: int = _int(300, 1, 1_000_000)


@dataclasses.dataclass
class OidcConfig:
    # The OpenID Connect provider staff sign in with (its issuer URL); empty: local passwords.
    issuer: str = ""
    client_id: str = ""
    client_secret: str = ""
    # The ID token claim holding the user's groups, and which group gives which role:
    # "group=role, group=role" (roles: admin, recruiter, interviewer, compliance). A user in
    # several mapped groups gets the first listed; in none, is refused.
    groups_claim: str = "groups"
    roles: str = ""
    # Who may still sign in with a password once single sign-on is on: everyone, or only the
    # break-glass accounts listed (comma-separated e-mail addresses).
    password_signin: str = _choice("everyone", "break_glass")
    break_glass: str = ""
    # A PEM file of CAs to trust for the provider's HTTPS (an internal CA); empty: the system's.
    ca_file: str = _absolute_path()


@dataclasses.dataclass
class CalendarsConfig:
    # Comma-separated address prefixes an interviewer's calendar (CalDAV or ICS) must start with,
    # e.g. "https://caldav.example.com/, https://outlook.office365.com/owa/calendar/"; empty:
    # connecting calendars is off.
    allowed: str = ""
    # How often the worker reads each connected calendar's busy times.
    refresh_minutes: int = _int(5, 1, 1440)


@dataclasses.dataclass
class WebhooksConfig:
    # How long a receiver has to answer one delivery before it counts as a failed try.
    timeout_seconds: int = _int(10, 1, 60)


@dataclasses.dataclass
class AuditConfig:
    checkpoint_every: int = _int(100, 1, 100_000)


@dataclasses.dataclass
class StorageConfig:
    # Empty: <data-dir>/blobs.
    blob_dir: str = _absolute_path()
    # Bytes of recording per sealed chunk: the sealed format's bounds (storage/sealed.py).
    chunk_size: int = _int(65536, 1024, 16 * 1024 * 1024)


@dataclasses.dataclass
class RetentionConfig:
    # A candidate's data is erased this many days after their last interview ended, or after the
    # hiring decision, whichever comes first; 0 turns a rule off. Legal holds always win.
    days_after_interview: int = _int(365, 0, 100 * 365)
    days_after_decision: int = _int(180, 0, 100 * 365)


@dataclasses.dataclass
class MetricsConfig:
    # When set, /metrics answers only requests bearing `Authorization: Bearer <token>`.
    token: str = ""


@dataclasses.dataclass
class SchedulingConfig:
    # Free time kept around every interview on each panel member's calendar.
    buffer_minutes: int = _int(10, 0, 240)
    # Candidates cannot book a slot starting sooner than this.
    minimum_notice_hours: int = _int(12, 0, 30 * 24)
    # Slots start on this grid (minutes past the hour).
    slot_step_minutes: int = _int(15, 5, 120)
    # How far ahead a self-scheduling link offers slots, and how long it stays valid.
    horizon_days: int = _int(21, 1, 365)
    # A candidate's join link opens this long before the interview starts.
    join_early_minutes: int = _int(15, 0, 240)


@dataclasses.dataclass
class InterviewsConfig:
    # When a candidate declines recording: "unrecorded" holds the interview without recording;
    # "reschedule" keeps them out and asks the recruiter to arrange something else.
    decline_recording: str = _choice("unrecorded", "reschedule")
    # Whether AI assistance will be used on transcripts (the candidate is asked separately).
    ai_assistance: bool = False
    # Whether the evidence panel may suggest a rubric level where one is proven on this box's
    # own scores (evidence/suggestion.py); off, it never shows one.
    rubric_suggestions: bool = True
    # How a waiting candidate gets into the room: "manual" (a panel member admits them) or
    # "at-start" (automatically from the start time; earlier, a panel member may admit them).
    admit: str = _choice("manual", "at-start")


@dataclasses.dataclass
class NotificationsConfig:
    # "Scorecard due" e-mails to each panel member who has not submitted theirs: this many hours
    # after the interview ended, and once more `scorecard_repeat_hours` later; 0 turns them off.
    scorecard_due_hours: int = _int(2, 0, 30 * 24)
    scorecard_repeat_hours: int = _int(24, 0, 30 * 24)
    # "Ready to review" e-mails to the panel and the hiring team once the transcript is made.
    transcript_ready: bool = True


@dataclasses.dataclass
class SmtpConfig:
    # Empty: no e-mail; recruiters see each message and its .ics to send themselves.
    host: str = ""
    port: int = _int(587, 1, 65535)
    username: str = ""
    password: str = ""
    sender: str = "Parley <parley@localhost>"
    # starttls, tls (implicit, port 465) or none (a relay on a trusted network only).
    security: str = _choice("starttls", "tls", "none")
    timeout_seconds: int = _int(30, 1, 600)
    # Messages in the outbox (sent or not) are deleted this many days after they were queued.
    keep_days: int = _int(90, 7, 3650)


@dataclasses.dataclass
class SystemConfig:
    # The machine's host name, set on the Settings page; the image applies it as root when the
    # services restart (`appliance system apply-hostname`). Empty: the name is left as it is.
    hostname: str = ""


@dataclasses.dataclass
class AcmeConfig:
    # The CA's ACME directory; empty: no ACME (a self-signed or uploaded certificate).
    directory_url: str = ""
    # Contact address the CA writes to about expiry and incidents.
    email: str = ""
    # Comma-separated names for the certificate; empty: the host of [web] public_url.
    domains: str = ""
    # A PEM file of CAs to trust for the directory's own HTTPS (an internal CA); empty: the
    # system's trust store.
    ca_bundle: str = ""
    # Renew when the certificate has fewer days than this left.
    renew_days: int = _int(30, 1, 89)


@dataclasses.dataclass
class AsrConfig:
    # Installed model directory name under <data-dir>/models (see `appliance models list`).
    model: str = "whisper-base"
    # auto: CUDA when onnxruntime offers it, else CPU.
    device: str = _choice("auto", "cpu", "cuda")
    # CPU threads for speech recognition; 0: every core.
    threads: int = _int(0, 0, 1024)
    beam_size: int = _int(5, 1, 16)
    # Empty: detect the language of each recording.
    language: str = ""
    # Drop long silences before transcribing (Silero VAD).
    vad: bool = True
    # Live captions in calls, from the SFU process; off, or no model installed: none.
    live_captions: bool = True
    # Model for live captions; empty: the same as `model` (an int8 variant is faster on CPU).
    live_model: str = ""
    # Utterances from different calls encoded together for captions; 0: 8 on a GPU, 1 on a CPU
    # (where batching measured no faster).
    caption_batch: int = _int(0, 0, 64)
    # Where `appliance models install` fetches its pinned wheels from; empty: pip's default index.
    index_url: str = ""


@dataclasses.dataclass
class Config:
    data_dir: Path
    web: WebConfig = dataclasses.field(default_factory=WebConfig)
    sfu: SfuConfig = dataclasses.field(default_factory=SfuConfig)
    database: DatabaseConfig = dataclasses.field(default_factory=DatabaseConfig)
    queue: QueueConfig = dataclasses.field(default_factory=QueueConfig)
    auth: AuthConfig = dataclasses.field(default_factory=AuthConfig)
    audit: AuditConfig = dataclasses.field(default_factory=AuditConfig)
    storage: StorageConfig = dataclasses.field(default_factory=StorageConfig)
    retention: RetentionConfig = dataclasses.field(default_factory=RetentionConfig)
    metrics: MetricsConfig = dataclasses.field(default_factory=MetricsConfig)
    asr: AsrConfig = dataclasses.field(default_factory=AsrConfig)
    scheduling: SchedulingConfig = dataclasses.field(default_factory=SchedulingConfig)
    smtp: SmtpConfig = dataclasses.field(default_factory=SmtpConfig)
    interviews: InterviewsConfig = dataclasses.field(default_factory=InterviewsConfig)
    notifications: NotificationsConfig = dataclasses.field(default_factory=NotificationsConfig)
    acme: AcmeConfig = dataclasses.field(default_factory=AcmeConfig)
    system: SystemConfig = dataclasses.field(default_factory=SystemConfig)
    webhooks: WebhooksConfig = dataclasses.field(default_factory=WebhooksConfig)
    oidc: OidcConfig = dataclasses.field(default_factory=OidcConfig)
    calendars: CalendarsConfig = dataclasses.field(default_factory=CalendarsConfig)

    @property
    def public_url(self) -> str:
        """Base URL for links shown to people, without a trailing slash."""
        if self.web.public_url:
            return self.web.public_url.rstrip("/")
        host = "127.0.0.1" if self.web.host in ("0.0.0.0", "::", "") else self.web.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.web.port}"

    @property
    def blob_dir(self) -> Path:
        return Path(self.storage.blob_dir) if self.storage.blob_dir else self.data_dir / "blobs"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'appliance.db'}"


SECTIONS: dict[str, type[Any]] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in dataclasses.fields(Config)
    if f.name != "data_dir"
}


SETTINGS_FILE = "settings.toml"


def default_data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """`APPLIANCE_DATA_DIR`, else the per-user data directory."""
    if environ.get("APPLIANCE_DATA_DIR"):
        return Path(environ["APPLIANCE_DATA_DIR"])
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "parley"


def load_config(
    data_dir: Path,
    config_path: Path | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Config:
    """Build the configuration for `data_dir`.

    `config_path` defaults to `APPLIANCE_CONFIG`, else `<data_dir>/appliance.toml`; a file that
    was named explicitly must exist, the default one may be absent. `<data_dir>/settings.toml`
    (what administrators set in the browser) overrides it, and APPLIANCE_* variables override
    both.
    """
    explicit = config_path or (
        Path(environ["APPLIANCE_CONFIG"]) if environ.get("APPLIANCE_CONFIG") else None
    )
    path = explicit or data_dir / "appliance.toml"
    if not path.exists() and explicit is not None:
        raise ApplianceError(f"config file {path} does not exist")
    sections: dict[str, dict[str, Any]] = {}
    # The administrators' settings page writes settings.toml; it overrides the config file.
    for source in (path, data_dir / SETTINGS_FILE):
        for section, values in read_config_file(source).items():
            for key, value in values.items():
                sections.setdefault(section, {})[key] = check_value(
                    section, key, value, f"{source}"
                )

    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        section, key = _split_env_name(name)
        sections.setdefault(section, {})[key] = _from_env(section, key, raw, name)

    built = {section: SECTIONS[section](**sections.get(section, {})) for section in SECTIONS}
    return Config(data_dir=data_dir, **built)


def read_config_file(path: Path) -> dict[str, dict[str, Any]]:
    """A config file's sections, each checked to be a known table; nothing when absent."""
    if not path.exists():
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ApplianceError(f"cannot read config file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ApplianceError(f"config file {path} is not valid TOML: {exc}") from exc
    except RecursionError:
        raise ApplianceError(f"config file {path} nests arrays or tables too deeply") from None
    for section, table in values.items():
        if section not in SECTIONS:
            raise ApplianceError(
                f"{path}: unknown section [{section}]; known: {', '.join(SECTIONS)}"
            )
        if not isinstance(table, dict):
            raise ApplianceError(f"{path}: '{section}' must be a table like [{section}]")
    return values


_KIND: dict[type[Any], str] = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    float: "a number",
}


def _field_types(section: str) -> dict[str, type[Any]]:
    types = {"str": str, "int": int, "bool": bool, "float": float}
    return {f.name: types[str(f.type)] for f in dataclasses.fields(SECTIONS[section])}


def check_value(section: str, key: str, value: Any, source: str) -> Any:
    fields = _field_types(section)
    if key not in fields:
        raise ApplianceError(
            f"{source}: unknown key '{key}' in [{section}]; known: {', '.join(fields)}"
        )
    expected = fields[key]
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        raise ApplianceError(
            f"{source}: [{section}] {key} must be {_KIND[expected]}, got {value!r}"
        )
    _check_bounds(section, key, value, source)
    return value


def _metadata(section: str, key: str) -> Mapping[str, Any]:
    return next(f.metadata for f in dataclasses.fields(SECTIONS[section]) if f.name == key)


def bounds(section: str, key: str) -> tuple[int, int]:
    """The least and greatest value a number setting accepts, for forms that offer it."""
    low, high = _metadata(section, key)["range"]
    return int(low), int(high)


def choices(section: str, key: str) -> tuple[str, ...]:
    """The words a choice setting accepts, for forms that offer them."""
    return tuple(_metadata(section, key)["choices"])


def _check_bounds(section: str, key: str, value: Any, source: str) -> None:
    meta = _metadata(section, key)
    if "range" in meta:
        low, high = meta["range"]
        if not low <= value <= high:
            raise ApplianceError(
                f"{source}: [{section}] {key} must be from {low} to {high}, got {value!r}"
            )
    if "choices" in meta and value not in meta["choices"]:
        raise ApplianceError(
            f"{source}: [{section}] {key} must be one of {', '.join(meta['choices'])}, "
            f"got {value!r}"
        )
    if meta.get("absolute") and value and not Path(value).is_absolute():
        raise ApplianceError(f"{source}: [{section}] {key} must be an absolute path, got {value!r}")


def _split_env_name(name: str) -> tuple[str, str]:
    rest = name[len(ENV_PREFIX) :].lower()
    for section in SECTIONS:
        if rest.startswith(section + "_"):
            key = rest[len(section) + 1 :]
            if key in _field_types(section):
                return section, key
            raise ApplianceError(f"environment variable {name}: unknown key '{key}' in [{section}]")
    raise ApplianceError(
        f"environment variable {name} names no config section; "
        f"use APPLIANCE_<SECTION>_<KEY> with a section of: {', '.join(SECTIONS)}"
    )


def _from_env(section: str, key: str, raw: str, name: str) -> Any:
    expected = _field_types(section)[key]
    if expected is str:
        _check_bounds(section, key, raw, f"environment variable {name}")
        return raw
    if expected is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ApplianceError(f"environment variable {name} must be true or false, got {raw!r}")
    try:
        value = expected(raw)
    except ValueError:
        raise ApplianceError(
            f"environment variable {name} must be {_KIND[expected]}, got {raw!r}"
        ) from None
    _check_bounds(section, key, value, f"environment variable {name}")
    return value
