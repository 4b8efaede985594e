"""Our A7 277CA statuses: the party at fault (STC01-3) and what is wrong (STC10-2)."""

from __future__ import annotations

import pytest

from gateway.pipeline.answer_files import rejection_status, what_is_wrong


@pytest.mark.parametrize(
    ("pointer", "entity", "what"),
    [
        ("/billing_provider/npi", "85", "562"),
        ("/rendering_provider/npi", "82", "562"),
        ("/subscriber/member_id", "IL", "164"),
        ("/subscriber/birth_date", "IL", "0"),
        ("/diagnoses/0/code", "41", "447"),
        ("/service_lines/1/procedure/code", "41", "454"),
        ("/service_lines/0/service_date", "41", "187"),
        ("/billing_provider/address/line1", "85", "458"),
        ("/patient/last_name", "QC", "145"),
        ("/patient_control_number", "41", "0"),
        ("", "41", "0"),
    ],
)
def test_entity_and_what(pointer: str, entity: str, what: str) -> None:
    assert rejection_status(["NPI_CHECK_DIGIT"], pointer).entity == entity
    assert what_is_wrong(pointer) == what


def test_a_duplicate_is_22() -> None:
    assert rejection_status(["DUPLICATE_CONTROL_NUMBER"], "").code == "22"
