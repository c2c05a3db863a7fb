import logging

from appliance.core.log_repeats import RepeatFilter


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, message, args, None)


def test_a_repeated_message_passes_once_per_interval_with_a_count_of_the_rest() -> None:
    quiet = RepeatFilter(interval=3600)
    passed = [quiet.filter(_record("accept failed: %s", n)) for n in range(10_000)]
    assert passed.count(True) == 1
    assert quiet.filter(_record("another message"))  # counted apart
    quiet.interval = 0
    summary = _record("accept failed: %s", "again")
    assert quiet.filter(summary)
    assert "9999 more like this" in summary.getMessage()
