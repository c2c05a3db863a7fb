"""The worker process: huey on SQLite (or Redis) running the appliance's background tasks."""

from __future__ import annotations

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from appliance.runtime import Runtime
from appliance.sessions import purge_expired
from appliance.storage import retention


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


def run(runtime: Runtime) -> None:
    huey = build_queue(runtime)
    consumer = Consumer(huey, workers=runtime.config.queue.workers, worker_type="thread")
    consumer.run()
