"""The `--processes` supervisor's own rules, with stand-in members (no broker): each member's
settings, and a member that cannot start makes the supervisor give up, not loop."""

from __future__ import annotations

import sys

from stream_app.ops.supervisor import RESTARTS, Supervisor, member_env


def test_each_member_has_its_worker_id_and_port_offset() -> None:
    env = member_env({"ISALES_X": "1"}, 3, "calls")
    assert env == {"ISALES_X": "1", "ISALES_WORKER_ID": "calls-3", "ISALES_PORT_OFFSET": "300"}
    sup = Supervisor("email", 2, {"ISALES_WORKER_ID": "host7"})
    assert [m.env["ISALES_WORKER_ID"] for m in sup.members] == ["host7-0", "host7-1"]
    assert Supervisor("crm", 1, {}).members[0].env["ISALES_WORKER_ID"] == "crm-0"


def test_a_member_that_cannot_start_stops_the_supervisor_with_its_code() -> None:
    sup = Supervisor(
        "calls", 2, {}, command=lambda _: [sys.executable, "-c", "import sys; sys.exit(3)"]
    )
    assert sup.run() == 3
    assert max(len(m.starts) for m in sup.members) == RESTARTS + 1
