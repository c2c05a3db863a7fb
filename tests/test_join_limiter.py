from appliance.sfu.ratelimit import JoinLimiter


def test_a_burst_then_the_steady_rate() -> None:
    limiter = JoinLimiter(per_minute=60, burst=3)
    assert [limiter.allow("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", now=0.0)  # addresses are counted apart
    assert not limiter.allow("a", now=0.5)
    assert limiter.allow("a", now=1.6)  # one attempt a second comes back
