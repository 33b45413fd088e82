"""The PII allow-list belongs to the code location's settings; a run's config may only narrow it."""

from __future__ import annotations

import json

import pytest

from mesh_assets.lib.pii.policy import PiiAllowListError, effective_allow_list, permitted_allow_list

SETTINGS = json.dumps(
    {"columns": ["desk_note"], "values": ["support@mesh.example"], "patterns": [r".*@mesh-capital\.example"]}
)


def test_unset_run_config_takes_the_settings_list_and_a_subset_narrows_it() -> None:
    permitted = permitted_allow_list(SETTINGS)
    assert effective_allow_list(permitted) == permitted
    narrowed = effective_allow_list(permitted, columns=[], values=["SUPPORT @mesh.example"], patterns=[])
    assert narrowed.columns == frozenset() and narrowed.patterns == ()
    assert narrowed.allows("x", "email", "support@mesh.example")
    assert not narrowed.allows("x", "email", "jane@mesh-capital.example")


@pytest.mark.parametrize(
    ("request_", "named"),
    [
        ({"patterns": [".*"]}, "pattern '.*'"),
        ({"columns": ["return_status"]}, "column 'return_status'"),
        ({"values": ["jane.doe@example.com"]}, "value 'jane.doe@example.com'"),
    ],
)
def test_a_widening_run_config_is_refused_in_one_sentence_naming_it(request_, named) -> None:
    with pytest.raises(PiiAllowListError, match="run config may only narrow") as refused:
        effective_allow_list(permitted_allow_list(SETTINGS), **request_)
    assert named in str(refused.value) and "MESH_PII_ALLOW_LIST" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_without_settings_nothing_may_be_allowed() -> None:
    permitted = permitted_allow_list(None)
    assert effective_allow_list(permitted) == permitted and not permitted.patterns
    with pytest.raises(PiiAllowListError):
        effective_allow_list(permitted, patterns=[".*"])


@pytest.mark.parametrize("raw", ["{not json", '["a"]', '{"patterns": ".*"}', '{"regexes": []}'])
def test_a_malformed_setting_is_named(raw) -> None:
    with pytest.raises(PiiAllowListError, match="MESH_PII_ALLOW_LIST"):
        permitted_allow_list(raw)
