"""The worker process: huey on SQLite (or Redis) running the appliance's background tasks."""

from __future__ import annotations

import logging
import os
import threading
from functools import partial
from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from appliance.asr_onnx.service import open_transcriber
from appliance.asr_onnx.transcriber import Transcriber
from appliance.box import acme_certificates
from appliance.core import sdnotify
from appliance.core.errors import ApplianceError
from appliance.core.liveness import HEARTBEAT_SECONDS, heartbeat_path
from appliance.evaluation import reminders
from appliance.evidence import suggestion
from appliance.evidence.assistant import Assistant
from appliance.hiring import calendar_sync, mailer, notifications, scheduling
from appliance.integrations import webhook_delivery
from appliance.recordings import composite_jobs, filing, rendition, retention, transcription
from appliance.recordings.live_transcription import WINDOW_SECONDS, LiveTranscription
from appliance.recordings.store import get_recording
from appliance.runtime import Runtime
from appliance.staff import idempotency
from appliance.staff.sessions import purge_expired
from appliance.storage import audit
from appliance.storage.audit_anchor import anchor_path

logger = logging.getLogger(__name__)


def build_queue(runtime: Runtime) -> Huey:
    """The task queue named by `[queue] url`, with the periodic tasks registered on it."""
    url = runtime.config.queue.url
    if url.startswith("redis://"):
        huey: Huey = RedisHuey("parley", url=url)
    else:
        huey = SqliteHuey("parley", filename=str(runtime.config.data_dir / "queue.db"))

    @huey.periodic_task(crontab(minute="*/10"))  # type: ignore[untyped-decorator]
    def checkpoint_audit_log() -> None:
        """Sign the audit log's newest entries, so a rewrite of the tail is caught."""
        runtime.audit.checkpoint()

    @huey.periodic_task(crontab(hour="2", minute="47"))  # type: ignore[untyped-decorator]
    def verify_audit_log() -> None:
        """Check the whole audit log every night; the Audit page and /healthz show the result."""
        check_whole_audit_log(runtime)

    @huey.periodic_task(crontab(minute="7"))  # type: ignore[untyped-decorator]
    def purge_expired_sessions() -> None:
        purge_expired()
        idempotency.purge()
        webhook_delivery.prune()

    @huey.periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
    def send_mail() -> None:
        """Queue due reminders, then send what the outbox holds."""
        notifications.send_reminders(runtime.config, scheduling.link_key(runtime.keys))
        reminders.send_scorecard_reminders(runtime.config)
        mailer.deliver_pending(runtime.config.smtp)

    @huey.periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
    def read_calendars() -> None:
        """Read the busy times of connected calendars not read for `[calendars]
        refresh_minutes`."""
        calendar_sync.refresh_due(runtime.keys, runtime.config.calendars)

    @huey.periodic_task(crontab(minute="*/5"))  # type: ignore[untyped-decorator]
    def keep_certificate_current() -> None:
        """Issue or renew the ACME certificate when one is due (nothing without [acme])."""
        outcome = acme_certificates.maintain(runtime.audit, runtime.config)
        if outcome is not None and outcome.state == "failed":
            logger.warning("ACME certificate for %s: %s", outcome.names, outcome.message)

    @huey.periodic_task(crontab(minute="23"))  # type: ignore[untyped-decorator]
    def retrain_rubric_suggestions() -> None:
        if runtime.config.interviews.rubric_suggestions:
            suggestion.retrain_all()

    @huey.periodic_task(crontab(hour="3", minute="17"))  # type: ignore[untyped-decorator]
    def apply_retention() -> None:
        """Erase candidates past the retention period (legal holds excepted), and drop outbox
        messages past theirs."""
        retention.run(runtime, "retention", dry_run=False)
        pruned = mailer.prune_outbox(runtime.config.smtp.keep_days)
        if pruned:
            runtime.audit.record("retention", "outbox.prune", "outbox", {"messages": pruned})

    return huey


def check_whole_audit_log(runtime: Runtime) -> audit.Verification:
    config = runtime.config
    result = audit.verify_against(
        runtime.keys.public_key, config.audit.checkpoint_every, [anchor_path(config.data_dir)]
    )
    audit.save_full_check(config.data_dir, result)
    if not result.ok:
        logger.error("the audit log failed its full check: %s", result.reason)
    return result


class Every(threading.Thread):
    """A worker thread doing one round of its work every `interval` seconds until stopped; a
    round that fails is logged, and the next one runs as usual."""

    failure = "a round of background work failed"

    def __init__(self, name: str, runtime: Runtime, interval: float) -> None:
        super().__init__(name=name, daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.stopping = threading.Event()

    def start_up(self) -> None:
        """Once, before the first round."""

    def step(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        try:
            self.start_up()
        except Exception:
            logger.exception("%s: starting failed", self.name)
        while not self.stopping.wait(self.interval):
            try:
                self.step()
            except Exception:
                logger.exception(self.failure)


class SpoolIngester(Every):
    """Files the SFU's live-recording events every second, in order, on its own thread."""

    failure = "filing recording events failed"

    def __init__(self, runtime: Runtime, interval: float = 1.0) -> None:
        super().__init__("recording-spool", runtime, interval)

    def step(self) -> None:
        filing.ingest(self.runtime)


class TranscriptionRunner(threading.Thread):
    """Transcribes finished recordings one at a time, oldest first.

    One recognizer per box: the model is loaded once, on the first job, and jobs never run in
    parallel (they would only compete for the same cores or GPU). The job rows are the queue,
    so a crash loses nothing: interrupted jobs are queued again at start. The tracks of a
    recording were followed and transcribed while it was made (`live`); a job transcribes only
    what was not. After each job, the recording's tracks get their seekable renditions
    (recordings/rendition.py).
    """

    def __init__(
        self, runtime: Runtime, interval: float = 2.0, window: float = WINDOW_SECONDS
    ) -> None:
        super().__init__(name="transcription", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.stopping = threading.Event()
        self._transcriber: Transcriber | None = None
        self._loading = threading.Lock()
        self.live = LiveTranscription(runtime, self.transcriber, window)
        self.assistant = Assistant(runtime)

    def transcriber(self) -> Transcriber:
        with self._loading:  # the followers ask for it too
            if self._transcriber is None:
                config = self.runtime.config
                self._transcriber = open_transcriber(config.models_dir, config.asr)
            return self._transcriber

    def run_one(self) -> bool:
        """Runs the oldest queued job; False when none is waiting."""
        job = transcription.next_queued()
        if job is None:
            return False
        try:
            if self.transcribe(job.recording_id):
                self.make_evidence(job.recording_id)
        finally:
            self.make_renditions(job.recording_id)
        return True

    def transcribe(self, recording_id: int) -> bool:
        """Whether the recording now has its transcript."""
        try:
            transcriber = self.transcriber()
        except ApplianceError as exc:  # no model installed, say: the job cannot even start
            logger.error("transcribing recording %s failed: %s", recording_id, exc)
            transcription.fail(recording_id, str(exc))
            return False
        followed = self.live.take(get_recording(recording_id))
        try:  # a failure marks the job failed, with its reason
            transcription.transcribe_recording(
                self.runtime,
                recording_id,
                transcriber,
                self.runtime.config.asr,
                followed=followed,
            )
        except ApplianceError as exc:
            logger.error("transcribing recording %s failed: %s", recording_id, exc)
            return False
        return True

    def make_evidence(self, recording_id: int) -> None:
        """Evidence per competency, where the candidate agreed to AI assistance."""
        try:
            self.assistant.after_transcript(get_recording(recording_id))
        except Exception:  # the transcript stands without it
            logger.exception("evidence for recording %s failed", recording_id)

    def make_renditions(self, recording_id: int) -> None:
        """Seekable renditions of the recording's tracks, made once its transcript is (the
        transcript is what reviewers wait for)."""
        try:
            rendition.make_renditions(self.runtime, get_recording(recording_id))
        except Exception:  # the review plays the tracks as recorded; the transcript goes on
            logger.exception("making seekable renditions of recording %s failed", recording_id)

    def run(self) -> None:
        transcription.requeue_interrupted()
        try:
            indexed = transcription.index_unindexed(self.runtime)
        except Exception:  # search misses those transcripts; nothing else depends on it
            logger.exception("indexing the transcripts stored before the search index failed")
        else:
            if indexed:
                logger.info("indexed %d transcripts for search", indexed)
        while not self.stopping.is_set():
            try:
                busy = self.run_one()
            except Exception:  # keep serving later jobs; this one is marked failed and logged
                logger.exception("transcription failed")
                busy = True
            if not busy:
                self.stopping.wait(self.interval)


class TrackFollowing(threading.Thread):
    """Starts following each track a live room is recording (recordings/live_transcription.py)
    every few seconds."""

    def __init__(self, runner: TranscriptionRunner, interval: float = 2.0) -> None:
        super().__init__(name="track-following", daemon=True)
        self.runner = runner
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        unavailable = ""
        while not self.stopping.wait(self.interval):
            try:
                self.runner.live.follow_new_tracks()
                unavailable = ""
            except ApplianceError as exc:  # no model: the batch job says so for each recording
                if str(exc) != unavailable:
                    logger.warning("live tracks are not transcribed as they are made: %s", exc)
                unavailable = str(exc)
            except Exception:
                logger.exception("following live tracks failed")
        self.runner.live.stop()


class CompositeRunner(Every):
    """Makes the single-file exports asked for on review pages, one at a time, oldest first
    (recordings/composite_jobs.py); at start, jobs a stop interrupted are queued again. A job
    that fails stays as it was left; the next one still runs."""

    failure = "a composite job failed"

    def __init__(self, runtime: Runtime, interval: float = 2.0) -> None:
        super().__init__("composite", runtime, interval)

    def start_up(self) -> None:
        composite_jobs.resume_interrupted(self.runtime)

    def step(self) -> None:
        job = composite_jobs.next_job()
        if job is not None:
            composite_jobs.run(self.runtime, job)


class WebhookSender(Every):
    """Sends due webhook deliveries every `interval` seconds (integrations/webhook_delivery.py);
    nothing while no endpoint is configured. Deliveries a failed round left stay pending."""

    failure = "sending webhooks failed"

    def __init__(self, runtime: Runtime, interval: float = 2.0) -> None:
        super().__init__("webhooks", runtime, interval)

    def step(self) -> None:
        webhook_delivery.run_due(
            self.runtime.audit,
            self.runtime.config,
            switched_off=partial(notifications.webhook_switched_off, self.runtime.config),
        )


class Heartbeat(threading.Thread):
    """Tells systemd the worker is ready, then alive while every one of its threads is; and
    says so in the data dir for the web process's health report."""

    def __init__(self, threads: list[threading.Thread], data_dir: Path) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self.threads = threads
        self.path = heartbeat_path(data_dir)
        self.stopping = threading.Event()

    def run(self) -> None:
        sdnotify.notify("READY=1")
        self.path.parent.mkdir(mode=0o700, exist_ok=True)
        interval = min(sdnotify.watchdog_interval() or HEARTBEAT_SECONDS, HEARTBEAT_SECONDS)
        while True:
            if all(thread.is_alive() for thread in self.threads):
                sdnotify.notify("WATCHDOG=1")
                self.path.touch()
            if self.stopping.wait(interval):
                return


# The worker's background work (transcripts, renditions, e-mail) yields the CPU to live rooms:
# the SFU forwards and records at its normal priority, the worker runs at this niceness or
# lower (the systemd units also give the SFU ten times the worker's CPU weight).
WORKER_NICENESS = 10


def lower_priority() -> int:
    """Make this process at least WORKER_NICENESS nice (before it starts any thread, which
    inherits it); returns the niceness it runs at. Under systemd the unit has set it already
    (`Nice=`), and the sandbox refuses the system call: only read it then."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if current >= WORKER_NICENESS:
        return current
    try:
        os.setpriority(os.PRIO_PROCESS, 0, WORKER_NICENESS)
    except OSError as exc:
        logger.warning("the worker runs at niceness %d: %s", current, exc)
        return current
    return WORKER_NICENESS


def run(runtime: Runtime) -> None:
    lower_priority()
    huey = build_queue(runtime)
    runner = TranscriptionRunner(runtime)
    threads: list[Every | TranscriptionRunner | TrackFollowing] = [
        SpoolIngester(runtime),
        runner,
        TrackFollowing(runner),
        CompositeRunner(runtime),
        WebhookSender(runtime),
    ]
    for thread in threads:
        thread.start()
    heartbeat = Heartbeat(list(threads), runtime.config.data_dir)
    heartbeat.start()
    consumer = Consumer(huey, workers=runtime.config.queue.workers, worker_type="thread")
    try:
        consumer.run()
    finally:
        sdnotify.notify("STOPPING=1")
        heartbeat.stopping.set()
        for thread in threads:
            thread.stopping.set()
        for thread in threads:
            thread.join()
