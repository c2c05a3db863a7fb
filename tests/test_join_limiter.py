from appliance.sfu.ratelimit import JoinLimiter


def test_a_burst_then_the_steady_rate() -> None:
    limiter = JoinLimiter(per_minute=60, burst=3)
    assert [limiter.allow("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", now=0.0)  # addresses are counted apart
    assert not limiter.allow("a", now=0.5)
    assert limiter.allow("a", now=1.6)  # one attempt a second comes back


def test_the_proxy_reported_address_counts_only_from_loopback() -> None:
    from aiohttp.test_utils import make_mocked_request

    from appliance.sfu.signaling import client_address

    request = make_mocked_request(
        "GET", "/sfu/ws", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    )
    assert client_address(request.clone(remote="127.0.0.1")) == "203.0.113.9"
    assert client_address(request.clone(remote="192.0.2.50")) == "192.0.2.50"
