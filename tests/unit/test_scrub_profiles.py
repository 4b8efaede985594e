"""Payer profile loading: shipped profiles load; unknown or malformed keys are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from payers.profile import (
    ProfileError,
    bundled_profiles_dir,
    describe_profile,
    describe_profiles,
    load_profile,
    load_profiles,
)

MINIMAL = """
payer_id = "SIMTEST1"
name = "SIMULATED TEST PAYER"
kind = "commercial"
usage = "test"
claim_types = ["professional"]
timely_filing_days = 90
"""


def _write(tmp_path: Path, text: str, name: str = "SIMTEST1") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_profiles_load_with_distinct_kinds() -> None:
    profiles = load_profiles()
    assert set(profiles) == {"SIMMCR01", "SIMMCD01", "SIMCOM01", "SIMCOM02", "SIMWC01"}
    assert {p.kind for p in profiles.values()} == {
        "medicare",
        "medicaid",
        "commercial",
        "workers_comp",
    }
    assert profiles["SIMMCR01"].timely_filing_days == 365
    assert profiles["SIMMCR01"].rules.claim_filing_indicators == ("MA", "MB")
    assert profiles["SIMWC01"].rules.accident_causes_required == ("EM",)


def test_shipped_profiles_have_different_rules() -> None:
    profiles = list(load_profiles().values())
    assert len({p.rules for p in profiles}) == len(profiles)


def test_aliases_resolve_to_the_profile() -> None:
    profiles = load_profiles()
    assert profiles["SIMCOMA"] is profiles["SIMCOM01"]
    assert "SIMCOMA" not in list(profiles)  # iteration lists each profile once


def test_minimal_profile_loads_with_rule_defaults(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, MINIMAL))
    assert profile.payer_id == "SIMTEST1"
    assert profile.rules.member_id_pattern is None
    assert profile.rules.places_of_service == frozenset()


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("colour = 'blue'\n", "colour"),
        ("[rules]\nmax_line = 5\n", "rules.max_line"),
        ("[transport]\nkind = 'sftp'\n", "transport"),
    ],
)
def test_unknown_keys_are_rejected_naming_file_and_key(
    tmp_path: Path, extra: str, key: str
) -> None:
    path = _write(tmp_path, MINIMAL + extra)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert str(path) in str(caught.value) and key in str(caught.value)
    assert "unknown key" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (MINIMAL.replace('kind = "commercial"', 'kind = "dental"'), "kind"),
        (
            MINIMAL.replace("timely_filing_days = 90", "timely_filing_days = '90'"),
            "timely_filing_days",
        ),
        (
            MINIMAL.replace("timely_filing_days = 90", "timely_filing_days = 0"),
            "timely_filing_days",
        ),
        (MINIMAL.replace('usage = "test"\n', ""), "usage"),
        (MINIMAL + "[rules]\nmember_id_pattern = '[A-'\n", "rules.member_id_pattern"),
        (MINIMAL + "[rules]\nmax_lines = true\n", "rules.max_lines"),
        (MINIMAL + "[rules]\nmax_lines = 0\n", "rules.max_lines"),
        (MINIMAL + "[rules]\nduplicate_lookback_days = -1\n", "rules.duplicate_lookback_days"),
        (MINIMAL + "[rules.extra]\nx = 1\n", "rules.extra"),
        (MINIMAL + "[rules]\nplaces_of_service = '11'\n", "rules.places_of_service"),
        (MINIMAL + "rules = 3\n", "rules"),
    ],
)
def test_malformed_values_are_rejected_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(_write(tmp_path, text))
    assert caught.value.key == key


def test_file_name_must_be_the_payer_id(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="file name"):
        load_profile(_write(tmp_path, MINIMAL, name="other"))


def test_invalid_toml_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(_write(tmp_path, "payer_id = "))


def test_alias_clash_between_profiles_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, MINIMAL + 'aliases = ["SIMTEST2"]\n')
    _write(tmp_path, MINIMAL.replace("SIMTEST1", "SIMTEST2"), name="SIMTEST2")
    with pytest.raises(ProfileError, match="used twice"):
        load_profiles(tmp_path)


def test_describe_profile_is_json_and_lists_requirements() -> None:
    for path in sorted(bundled_profiles_dir().glob("*.toml")):
        described = describe_profile(load_profile(path))
        assert json.loads(json.dumps(described)) == described
    assert [d["payer_id"] for d in describe_profiles(load_profiles())] == sorted(load_profiles())
    medicare = describe_profile(load_profiles()["SIMMCR01"])
    assert medicare["kind"] == "medicare"
    assert medicare["requirements"]["claim_filing_indicators"] == ["MA", "MB"]
    assert medicare["requirements"]["member_id_pattern"]
