"""The worker process: huey on SQLite (or Redis) running the appliance's background tasks."""

from __future__ import annotations

import logging
import threading

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from appliance.runtime import Runtime
from appliance.sessions import purge_expired
from appliance.storage import live_recordings, retention

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

    @huey.periodic_task(crontab(minute="7"))  # type: ignore[untyped-decorator]
    def purge_expired_sessions() -> None:
        purge_expired()

    @huey.periodic_task(crontab(hour="3", minute="17"))  # type: ignore[untyped-decorator]
    def apply_retention() -> None:
        """Erase candidates past the retention period (legal holds excepted)."""
        retention.run(runtime, "retention", dry_run=False)

    return huey


class SpoolIngester(threading.Thread):
    """Files the SFU's live-recording events every second, in order, on its own thread."""

    def __init__(self, runtime: Runtime, interval: float = 1.0) -> None:
        super().__init__(name="recording-spool", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                live_recordings.ingest(self.runtime)
            except Exception:  # keep filing later events; the failure is logged
                logger.exception("filing recording events failed")


def run(runtime: Runtime) -> None:
    huey = build_queue(runtime)
    ingester = SpoolIngester(runtime)
    ingester.start()
    consumer = Consumer(huey, workers=runtime.config.queue.workers, worker_type="thread")
    try:
        consumer.run()
    finally:
        ingester.stopping.set()
        ingester.join()
