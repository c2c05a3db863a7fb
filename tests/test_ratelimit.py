from appliance.core.ratelimit import AddressLimiter, client_address


def test_a_burst_then_the_steady_rate() -> None:
    limiter = AddressLimiter(per_minute=60, burst=3)
    assert [limiter.allow("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", now=0.0)  # addresses are counted apart
    assert not limiter.allow("a", now=0.5)
    assert limiter.allow("a", now=1.6)  # one attempt a second comes back


def test_the_proxy_reported_address_counts_only_from_loopback() -> None:
    forwarded = "198.51.100.7, 203.0.113.9"
    assert client_address("127.0.0.1", forwarded) == "203.0.113.9"
    assert client_address("::1", forwarded) == "203.0.113.9"
    assert client_address("192.0.2.50", forwarded) == "192.0.2.50"
    assert client_address("127.0.0.1", "") == "127.0.0.1"
