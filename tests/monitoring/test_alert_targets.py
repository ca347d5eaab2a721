"""Alert targets: no link-local or metadata address in any spelling, no redirect, no
DNS rebinding, an allow-list, and loopback still allowed (real servers on loopback,
real name resolution through a planted /etc/hosts and a DNS server in a namespace)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

import steward
from steward.monitoring import AlertManager, channel, create_monitor, list_monitors, run_monitor
from steward.monitoring.alerts.manager import RetryPolicy
from steward.monitoring.alerts.targets import TargetRefused
from tests.services import Receiver, run_isolated, run_steward

FAST = RetryPolicy(attempts=3, initial_delay_s=0.0)

HOSTILE_HOSTS = [
    "169.254.169.254",  # the metadata service of AWS, GCP, Azure, OpenStack…
    "169.254.170.2",  # ECS task credentials
    "0xa9fea9fe",  # hexadecimal
    "0xA9FEA9FE",
    "2852039166",  # decimal
    "0251.0376.0251.0376",  # octal
    "0xa9.0xfe.0xa9.0xfe",  # hexadecimal octets
    "169.254.43518",  # short forms
    "169.16689662",
    "169.254.169.254.",  # trailing dot
    "%31%36%39.254.169.254",  # percent-encoded
    "１６９.２５４.１６９.２５４",  # noqa: RUF001  (fullwidth digits: IDNA folds them)
    "[::ffff:169.254.169.254]",  # IPv6-mapped IPv4
    "[::ffff:a9fe:a9fe]",
    "[::169.254.169.254]",  # IPv4-compatible
    "[64:ff9b::a9fe:a9fe]",  # NAT64
    "[2002:a9fe:a9fe::]",  # 6to4
    "[2001:0:4136:e378:8000:63bf:5601:5601]",  # Teredo, client 169.254.169.254
    "[fe80::1]",  # IPv6 link-local
    "[fe80::a9fe:a9fe%25eth0]",  # with a zone
    "[FE80::1]",
    "[fd00:ec2::254]",  # AWS metadata over IPv6
    "100.100.100.200",  # Alibaba Cloud metadata
    "168.63.129.16",  # Azure wire server
]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_webhook_and_slack_refuse_link_local_and_metadata_hosts(host: str) -> None:
    for kind in ("webhook", "slack"):
        for url in (f"http://{host}/latest/meta-data/", f"https://user:pw@{host}:8080/x?y=1"):
            with pytest.raises(TargetRefused, match=r"is refused: .*(link-local|metadata)"):
                channel(kind, url=url)


@pytest.mark.parametrize("host", [h.strip("[]").replace("%25", "%") for h in HOSTILE_HOSTS])
def test_email_refuses_link_local_and_metadata_smtp_hosts(host: str) -> None:
    with pytest.raises(TargetRefused, match="refused"):
        channel("email", host=host, sender="s@clinic.example", recipients=["o@clinic.example"])


def test_malformed_targets_are_refused_with_the_reason() -> None:
    for url in ("ftp://example.org/", "http:///path", "http://exa mple.org/", "http://[::1/"):
        with pytest.raises(Exception, match=r"URL|host") as caught:
            channel("webhook", url=url)
        assert "Traceback" not in str(caught.value)
    with pytest.raises(TargetRefused, match="not a valid host name"):
        channel("email", host="bad host", sender="s@x.org", recipients=["o@x.org"])


def test_loopback_and_private_targets_stay_allowed(workspace: Any, receiver: Receiver) -> None:
    url = f"http://alerts:s3cret@localhost:{receiver.port}/hook?team=triage"
    manager = AlertManager(["drift.share > 0.3"], [channel("webhook", url=url)], retry=FAST)
    manager.evaluate({"drift.share": 0.5})
    assert [body["event"] for body in receiver.bodies] == ["fired"]
    assert receiver.requests == ["POST /hook?team=triage"]
    assert receiver.headers[0]["Authorization"] == "Basic YWxlcnRzOnMzY3JldA=="
    assert receiver.headers[0]["Host"] == f"localhost:{receiver.port}"
    for url in ("http://10.0.0.7/hook", "http://192.168.1.20/hook", "http://[::1]:9/hook"):
        channel("webhook", url=url)  # a relay on the local network is fine


def test_redirects_are_not_followed(workspace: Any) -> None:
    target, trap = Receiver(), Receiver()
    try:
        target.redirect_to = f"http://127.0.0.1:{trap.port}/stolen"
        manager = AlertManager(
            ["drift.share > 0.3"], [channel("webhook", url=target.url)], retry=FAST
        )
        manager.evaluate({"drift.share": 0.5})
        assert trap.requests == []  # neither the POST nor a GET reached the redirect target
        (delivery,) = workspace.store.monitoring.deliveries()
        assert delivery.status == "failed"
        assert "HTTP 302" in delivery.last_error
        assert "redirects are not followed" in delivery.last_error
    finally:
        target.close()
        trap.close()


def test_allow_list_from_the_environment_and_config_file(
    workspace: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_ALERT_ALLOWED_HOSTS", "hooks.example.org, 10.0.0.0/8")
    with pytest.raises(TargetRefused, match=r"not on the allow-list \(hooks.example.org, 10"):
        channel("webhook", url=receiver.url)
    channel("webhook", url="http://10.1.2.3/hook")

    monkeypatch.setenv("STEWARD_ALERT_ALLOWED_HOSTS", "*.example.org,localhost")
    manager = AlertManager(
        ["drift.share > 0.3"],
        [channel("webhook", url=f"http://localhost:{receiver.port}/hook")],
        retry=FAST,
    )
    manager.evaluate({"drift.share": 0.5})
    assert len(receiver.bodies) == 1
    with pytest.raises(TargetRefused, match="allow-list"):
        channel("webhook", url=receiver.url)  # 127.0.0.1 by address is not 'localhost'

    monkeypatch.delenv("STEWARD_ALERT_ALLOWED_HOSTS")
    config = Path(workspace.settings.home) / "config.toml"
    config.write_text('alert_allowed_hosts = ["127.0.0.0/8"]\n')
    channel("webhook", url=receiver.url)
    with pytest.raises(TargetRefused, match="allow-list"):
        channel("webhook", url="http://10.1.2.3/hook")
    # Listing a metadata address does not open it.
    config.write_text('alert_allowed_hosts = "169.254.0.0/16"\n')
    with pytest.raises(TargetRefused, match="link-local"):
        channel("webhook", url="http://169.254.169.254/")


def test_a_target_refused_at_delivery_is_recorded_once_and_the_monitor_still_runs(
    workspace: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    table = Path("scores.csv")
    scores = pd.DataFrame({"age": range(50), "prediction": [0, 1] * 25})
    scores.to_csv(table, index=False)
    steward.data.add("scores-reference", scores)
    create_monitor(
        "watch",
        table=str(table),
        reference="scores-reference:1",
        window="50 rows",
        rules=["window.rows > 1"],
        channels=[f"webhook:{receiver.url}", "log"],
    )
    # The allow-list changes after the monitor was made: the target is refused now.
    monkeypatch.setenv("STEWARD_ALERT_ALLOWED_HOSTS", "hooks.example.org")
    result = run_monitor("watch")
    assert result.status == "ok"
    (notice,) = result.alerts
    deliveries = {d.channel: d for d in workspace.store.monitoring.deliveries()}
    assert deliveries["log"].status == "delivered"
    refused = deliveries["webhook"]
    assert refused.status == "failed" and refused.attempts == 1  # not retried
    assert "allow-list" in refused.last_error
    assert receiver.bodies == []
    assert notice.event == "fired"


def test_monitor_create_refuses_a_metadata_webhook_in_one_line(workspace: Any) -> None:
    result = run_steward(
        workspace.settings.home,
        "monitor",
        "create",
        "m",
        "--table",
        "scores.parquet",
        "--reference",
        "train:1",
        "--window",
        "100 rows",
        "--channel",
        "webhook:http://0xa9fea9fe/latest/meta-data/iam/",
    )
    assert result.returncode == 1
    assert "169.254.169.254" in result.stderr and "refused" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert list_monitors() == []


# -- names that resolve there: a planted /etc/hosts and a DNS server -----------------

HOSTS = """127.0.0.1 localhost
169.254.169.254 meta.test
127.0.0.1 split.test
169.254.170.2 split.test
::ffff:169.254.169.254 mapped.test
fe80::1 six.test
"""

NAMES_SCRIPT = """
import json
from steward.monitoring import channel
from steward.monitoring.alerts.targets import TargetRefused

out = {}
for name in ("meta.test", "split.test", "mapped.test", "six.test"):
    try:
        channel("webhook", url=f"http://{name}/hook")
        out[name] = "accepted"
    except TargetRefused as exc:
        out[name] = str(exc)
    try:
        channel("email", host=name, sender="s@x.org", recipients=["o@x.org"])
        out[name + " smtp"] = "accepted"
    except TargetRefused as exc:
        out[name + " smtp"] = str(exc)
print(json.dumps(out))
"""


def test_names_that_resolve_to_link_local_are_refused(isolation: list[str], tmp_path: Path) -> None:
    done = run_isolated(NAMES_SCRIPT, tmp_path, binds={"/etc/hosts": HOSTS})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "'meta.test' (it resolves to 169.254.169.254) is refused" in out["meta.test"]
    # one good and one bad address: refused, whichever a connection would have picked
    assert "169.254.170.2" in out["split.test"]
    assert "carries 169.254.169.254" in out["mapped.test"]
    assert "fe80::1 is link-local" in out["six.test"]
    assert all(value != "accepted" for value in out.values()), out


REBINDING_SCRIPT = """
import json, socket, struct, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

a_answers = []

def answer(query):
    i = 12
    labels = []
    while query[i]:
        labels.append(query[i + 1 : i + 1 + query[i]].decode())
        i += query[i] + 1
    question = query[12 : i + 5]
    qtype = struct.unpack(">H", query[i + 1 : i + 3])[0]
    records = b""
    if ".".join(labels) == "rebind.test" and qtype == 1:
        # The attacker's DNS: a good answer for the check, then the metadata service.
        ip = "127.0.0.1" if len(a_answers) < 2 else "169.254.169.254"
        a_answers.append(ip)
        records = b"\\xc0\\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + socket.inet_aton(ip)
    header = query[:2] + b"\\x81\\x80" + struct.pack(">HHHH", 1, 1 if records else 0, 0, 0)
    return header + question + records

dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dns.bind(("127.0.0.1", 53))

def serve_dns():
    while True:
        query, peer = dns.recvfrom(512)
        dns.sendto(answer(query), peer)

threading.Thread(target=serve_dns, daemon=True).start()

received = []

class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        received.append(self.headers["Host"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()

from steward.monitoring import channel
from steward.monitoring.alerts.channels import AlertNotice
from steward.monitoring.alerts.targets import TargetRefused

notice = AlertNotice("a1", "fired", "s", "r", "x > 1", "warning", "x", 2.0, 1.0, "m", "now")
hook = channel("webhook", url=f"http://rebind.test:{port}/hook")  # lookup 1: checked
hook.send(notice)  # lookup 2: checked, and the connection goes to that address
out = {"received": list(received), "lookups_after_first_send": len(a_answers)}
try:
    hook.send(notice)  # lookup 3: the metadata address, refused before connecting
    out["third"] = "sent"
except TargetRefused as exc:
    out["third"] = str(exc)
out["received_after"] = list(received)
print(json.dumps(out))
"""


def test_dns_rebinding_cannot_turn_a_checked_delivery_elsewhere(
    isolation: list[str], tmp_path: Path
) -> None:
    done = run_isolated(
        REBINDING_SCRIPT,
        tmp_path,
        binds={"/etc/hosts": "127.0.0.1 localhost\n", "/etc/resolv.conf": "nameserver 127.0.0.1\n"},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # One lookup per check, none at connect time: a second lookup would have got the
    # metadata address and the POST would not have reached the hook.
    assert out["lookups_after_first_send"] == 2
    assert out["received"] == [f"rebind.test:{out['received'][0].split(':')[1]}"]
    assert "169.254.169.254" in out["third"] and "refused" in out["third"]
    assert len(out["received_after"]) == 1


def test_isolated_child_really_sees_the_planted_files(isolation: list[str], tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import socket
        print(socket.getaddrinfo("meta.test", 80, type=socket.SOCK_STREAM)[0][4][0])
        """
    )
    done = run_isolated(script, tmp_path, binds={"/etc/hosts": HOSTS})
    assert done.stdout.strip() == "169.254.169.254", done.stderr
