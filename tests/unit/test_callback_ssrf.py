"""The SSRF guard's verdicts, and the sender connecting to the checked address only."""

from __future__ import annotations

import pytest

from ingress_app.callbacks.sender import Sender
from ingress_app.callbacks.ssrf import Target, UnsafeUrl, check_url
from tests.support.receiver import Receiver


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://169.254.169.254/", "http://[fd00:ec2::254]/",
     "http://100.100.100.200/", "http://192.168.1.1/", "http://[fe80::1]/", "gopher://x/"],
)
def test_private_metadata_and_odd_urls_are_refused(url):
    with pytest.raises(UnsafeUrl):
        check_url(url, {})


def test_an_allowed_host_may_resolve_to_loopback_and_its_port_form_is_exact():
    target = check_url("http://localhost:8123/cb?x=1", {"CALLBACK_ALLOWED_HOSTS": "localhost"})
    assert target.address in ("127.0.0.1", "::1")
    assert (target.host_header, target.path) == ("localhost:8123", "/cb?x=1")
    assert check_url("http://localhost:8123/", {"CALLBACK_ALLOWED_HOSTS": "localhost:8123"})
    with pytest.raises(UnsafeUrl):
        check_url("http://localhost:9000/", {"CALLBACK_ALLOWED_HOSTS": "localhost:8123"})


def test_https_is_required_in_production_unless_turned_off():
    with pytest.raises(UnsafeUrl, match="https"):
        check_url("http://example.com/", {"INGRESS_ENV": "production"})
    with pytest.raises(UnsafeUrl, match="https"):
        check_url("http://example.com/", {"CALLBACK_REQUIRE_HTTPS": True})


def test_the_sender_connects_to_the_checked_address_with_the_urls_host_and_no_redirects():
    """No second DNS lookup: the name below does not even resolve."""
    with Receiver(answers=[302]) as receiver:
        port = receiver.server.server_address[1]
        target = Target("http", "callbacks.example.invalid", port, "127.0.0.1", "/hook")
        sender = Sender(1.0, 2.0, 2)
        outcome = sender.post(target, {"content-type": "application/json"}, b"{}")
        again = sender.post(target, {"content-type": "application/json"}, b"{}")
        sender.close()
    assert outcome.status_code == 302 and not outcome.ok  # not followed
    assert again.ok
    assert receiver.received[0]["headers"]["host"] == f"callbacks.example.invalid:{port}"
