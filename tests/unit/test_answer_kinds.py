"""first_kind: what a payer's answer file holds, read off its start when it is stored."""

from __future__ import annotations

import pytest

from gateway.pipeline.submit import first_kind

ISA = "ISA*00*          *00*          *ZZ*SIMCOM01       *ZZ*CLEARWAY       *261120*0930*^*00501*000000002*0*T*:~"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (ISA + "GS*HP*A*B*20261120*0930*2*X*005010X221A1~ST*835*0001~", "835"),
        (ISA + "GS*HN*A*B*20261120*0930*2*X*005010X214~ST*277*0001*005010X214~", "277CA"),
        (ISA + "GS*FA*A*B*20261120*0930*2*X*005010X231A1~ST*999*0001*005010X231A1~", "999"),
        (ISA + "TA1*000000001*261120*0930*R*024~IEA*0*000000002~", "TA1"),
        (ISA.replace("*", "|").replace("|:~", "|:~") + "GS|HP~ST|835|0001~", "835"),
        ("not x12 at all", "unknown"),
        (ISA + "GS*HC*A*B*20261120*0930*2*X*005010X222A1~ST*837*0001~", "unknown"),
    ],
)
def test_kind_from_the_first_st(body: str, kind: str) -> None:
    assert first_kind(body.encode()) == kind
