"""Boot the image under qemu (TCG, disk in snapshot mode) and check it as an administrator would.

Usage: python image/boot_test.py IMAGE_DIR. The console must show the address, the setup link
and the certificate's fingerprint; the setup page must answer over TLS (through nginx, via
hostfwd on 127.0.0.1) with that certificate; first-run setup must complete through it;
/healthz must report the web, SFU and worker up; a certificate the administrator uploads must
be served; saved settings must restart the services. A second boot of the same image, through
UEFI firmware and systemd-boot this time, must make different keys. Fails fast on a kernel
panic, emergency mode or a first-boot prompt in the serial log.

Every frame on the guest's network card is captured (qemu's filter-dump), and after each boot
the box must have sent nothing that nobody configured: only what configures its own network
(ARP, DHCP, IPv6 router and neighbour discovery) and answers on the HTTPS port the test
connects to. No DNS, NTP, STUN or HTTP of its own (docs/threat-model.md).
"""

from __future__ import annotations

import datetime
import hashlib
import http.cookiejar
import json
import re
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

FATAL = ("Kernel panic", "emergency mode", "Give root password", "Please enter", "firstboot")
# A bound that catches a hang, not a speed target: the guest runs under qemu's emulation (KVM is
# not offered here), whose speed varies with the host. Measured on two hosts: the console after
# 25 s and 102 to 113 s, the services healthy after 49 s and 262 to 376 s, a settings restart of
# 33 s and 247 s: the whole first boot took about 11 minutes on the slower one, where 420 s ran
# out. 30 minutes leaves room for a host slower still.
BOOT_SECONDS = 1800


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


OVMF = Path("/usr/share/ovmf/OVMF.fd")
GUEST_MAC = "52:54:00:12:34:56"
# Multicast listener reports (MLDv1 from the firmware, v2 from Linux), router solicitation and
# neighbour discovery: the link-local exchanges that configure the box's own IPv6 address.
NEIGHBOURLY_ICMPV6 = (131, 132, 133, 135, 136, 143)
HTTPS_PORT = 443


def frames(capture: Path) -> list[bytes]:
    """The Ethernet frames of a pcap file (qemu writes the classic format)."""
    data = capture.read_bytes()
    if len(data) < 24:
        return []
    order = "<" if data[:4] == bytes.fromhex("d4c3b2a1") else ">"
    found, at = [], 24
    while at + 16 <= len(data):
        length = struct.unpack(order + "I", data[at + 8 : at + 12])[0]
        found.append(data[at + 16 : at + 16 + length])
        at += 16 + length
    return found


def unconfigured_traffic(capture: Path) -> tuple[int, list[str]]:
    """(frames the guest sent, what among them nobody configured), each as `proto dst:port`."""
    guest = bytes.fromhex(GUEST_MAC.replace(":", ""))
    sent, odd = 0, []
    for frame in frames(capture):
        if len(frame) < 14 or frame[6:12] != guest:
            continue
        sent += 1
        kind, packet = struct.unpack("!H", frame[12:14])[0], frame[14:]
        if kind == 0x0806:  # ARP
            continue
        if kind == 0x0800 and len(packet) >= 20:
            header = (packet[0] & 0x0F) * 4
            proto, destination = packet[9], socket.inet_ntoa(packet[16:20])
            ports = (
                struct.unpack("!HH", packet[header : header + 4]) if proto in (6, 17) else (0, 0)
            )
            if proto == 17 and ports == (68, 67):  # DHCP
                continue
            if proto == 6 and ports[0] == HTTPS_PORT:  # answering the test's connections
                continue
            odd.append(f"IPv4 proto {proto} to {destination}:{ports[1]}")
        elif kind == 0x86DD and len(packet) >= 40:
            following, at = packet[6], 40
            if following == 0 and len(packet) >= at + 2:  # hop-by-hop options (MLD)
                following, at = packet[at], at + (packet[at + 1] + 1) * 8
            destination = socket.inet_ntop(socket.AF_INET6, packet[24:40])
            if following == 58 and len(packet) > at and packet[at] in NEIGHBOURLY_ICMPV6:
                continue
            if following == 17 and struct.unpack("!H", packet[at + 2 : at + 4])[0] == 547:
                continue  # DHCPv6
            odd.append(f"IPv6 next header {following} to [{destination}]")
        else:
            odd.append(f"ethertype {kind:#06x}")
    return sent, sorted(set(odd))


class Machine:
    """With `firmware`, the disk boots as a real machine would: UEFI firmware, systemd-boot
    from the EFI partition, then the kernel and initrd it names; without, qemu loads the kernel
    directly (faster, and it checks the rest)."""

    def __init__(self, image_dir: Path, firmware: bool = False) -> None:
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="parley-serial-", suffix=".log")[1])
        self.capture = Path(tempfile.mkstemp(prefix="parley-net-", suffix=".pcap")[1])
        [disk] = image_dir.glob("parley-*.raw")
        boot = (
            ["-bios", str(OVMF)]
            if firmware
            else [
                "-kernel", str(image_dir / "vmlinuz"), "-initrd", str(image_dir / "initrd"),
                "-append", "root=LABEL=parley-root rw console=ttyS0,115200 panic=-1",
            ]
        )  # fmt: skip
        self.process = subprocess.Popen(
            [
                "qemu-system-x86_64",
                "-m", "2048", "-smp", "2", "-cpu", "max", "-display", "none", "-no-reboot",
                *boot,
                "-drive", f"file={disk},format=raw,if=virtio,snapshot=on",
                "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{self.port}-:443",
                "-device", f"virtio-net-pci,netdev=net0,mac={GUEST_MAC}",
                "-object", f"filter-dump,id=watch,netdev=net0,file={self.capture}",
                "-serial", f"file:{self.log}",
            ],
        )  # fmt: skip

    def serial(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, deadline: float) -> re.Match[str]:
        while True:
            text = self.serial()
            for fatal in FATAL:
                if fatal in text:
                    raise SystemExit(f"boot failed ({fatal!r}):\n{text[-4000:]}")
            match = re.search(pattern, text)
            if match:
                return match
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"no {pattern!r} on the console:\n{text[-4000:]}")
            time.sleep(1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def https(port: int, fingerprint: str) -> urllib.request.OpenerDirector:
    """An opener for the box, once it serves exactly the certificate the console showed."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    seen = served_fingerprint(port)
    if seen != fingerprint.replace(":", "").upper():
        raise SystemExit(f"the certificate served ({seen}) is not the one on the console")
    return urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context),
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
    )


def served_fingerprint(port: int) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest().upper()


def upload_certificate(
    opener: urllib.request.OpenerDirector, base: str, port: int, deadline: float
) -> str:
    """The administrator replaces the self-signed certificate; nginx must serve it shortly."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "interviews.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    wanted = cert.fingerprint(hashes.SHA256()).hex().upper()
    page = opener.open(base + "/admin/tls", timeout=10).read().decode()
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert csrf, "no CSRF field on the TLS page"
    form = {
        "_csrf_token": csrf[1],
        "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }
    reply = opener.open(base + "/admin/tls", data=urllib.parse.urlencode(form).encode(), timeout=30)
    assert "Accepted the certificate" in reply.read().decode()
    while served_fingerprint(port) != wanted:
        if time.monotonic() > deadline:
            raise SystemExit("the uploaded certificate was never served")
        time.sleep(1)
    return wanted


def save_settings_and_wait(
    opener: urllib.request.OpenerDirector, base: str, deadline: float
) -> str:
    """Saved settings restart the services (a path unit): the web process reports a new start
    time, and health comes back."""
    started = time.monotonic()
    page = opener.open(base + "/admin/settings", timeout=10).read().decode()
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert csrf, "no CSRF field on the settings page"
    before = json.loads(opener.open(base + "/healthz", timeout=10).read())["started_at"]
    form = {
        "_csrf_token": csrf[1], "public_url": "https://interviews.example.com",
        "smtp_host": "", "smtp_port": "587", "smtp_security": "starttls",
        "smtp_username": "", "smtp_password": "", "smtp_sender": "Parley <hr@example.com>",
    }  # fmt: skip
    reply = opener.open(base + "/admin/settings", data=urllib.parse.urlencode(form).encode())
    assert "Saved." in reply.read().decode()
    while True:
        try:
            health = json.loads(opener.open(base + "/healthz", timeout=10).read())
            if health["started_at"] != before and health["status"] == "ok":
                return f"{time.monotonic() - started:.0f}"
        except OSError:  # restarting: the proxy answers 502, the web 503 until all are up
            pass
        if time.monotonic() > deadline:
            raise SystemExit("saved settings never restarted the services")
        time.sleep(1)


def boot(image_dir: Path, setup: bool) -> dict[str, str]:
    machine = Machine(image_dir, firmware=not setup)
    try:
        report = run(machine, setup)
    finally:
        machine.stop()
    sent, odd = unconfigured_traffic(machine.capture)
    if odd:
        raise SystemExit(f"the box sent traffic nobody configured: {odd}")
    report["frames_sent"] = str(sent)
    machine.capture.unlink()
    return report


def run(machine: Machine, setup: bool) -> dict[str, str]:
    started = time.monotonic()
    deadline = started + BOOT_SECONDS
    shown = machine.wait_for(r"TLS certificate SHA-256 fingerprint: ([0-9A-F:]+)", deadline)
    fingerprint = shown[1]
    signing = machine.wait_for(
        r"Audit signing key \(keys/signing.pub\) SHA-256: ([0-9a-f]{64})", deadline
    )[1]
    link = machine.wait_for(
        r"Finish setup \(the link works once\): https://[^/\s]+(/setup/\S+)", deadline
    )[1]
    report = {
        "signing": signing,
        "fingerprint": fingerprint,
        "console_s": f"{time.monotonic() - started:.0f}",
    }
    if not setup:
        return report
    base = f"https://127.0.0.1:{machine.port}"
    opener = https(machine.port, fingerprint)
    while True:
        try:
            page = opener.open(base + link, timeout=10).read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert csrf, "no CSRF field on the setup page"
    form = {
        "_csrf_token": csrf[1], "name": "Ada Admin", "email": "ada@example.com",
        "password": "correct horse battery", "password_again": "correct horse battery",
    }  # fmt: skip
    done = opener.open(base + link, data=urllib.parse.urlencode(form).encode(), timeout=30)
    assert done.status == 200 and "/setup/" not in done.url, done.url
    while True:
        try:
            health = json.loads(opener.open(base + "/healthz", timeout=10).read())
            break
        except OSError:  # 503 until the SFU and the worker are up
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    components = {c["name"]: c["ok"] for c in health["components"]}
    assert health["status"] == "ok" and components.get("sfu") and components.get("worker"), health
    sfu = next(c["detail"] for c in health["components"] if c["name"] == "sfu")
    assert sfu.endswith("; secrets hidden"), sfu
    try:
        opener.open(base + "/sfu/healthz", timeout=10)
        raise AssertionError("the SFU's own health report is served to the network")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404, exc.code
    report["healthy_s"] = f"{time.monotonic() - started:.0f}"
    report["uploaded_certificate_served"] = upload_certificate(opener, base, machine.port, deadline)
    report["settings_restart_s"] = save_settings_and_wait(opener, base, deadline)
    report["speech"] = next(c["detail"] for c in health["components"] if c["name"] == "speech")
    assert report["speech"].startswith("whisper-base on "), report["speech"]
    return report


def main() -> None:
    image_dir = Path(sys.argv[1])
    first = boot(image_dir, setup=True)
    second = boot(image_dir, setup=False)
    if first["signing"] == second["signing"] or first["fingerprint"] == second["fingerprint"]:
        raise SystemExit("two boots of the same image made the same keys: keys are baked in")
    print(json.dumps({"first": first, "second": second}))


if __name__ == "__main__":
    main()
