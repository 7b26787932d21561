"""Scenario ⇄ URL query (dashboard/state.py)."""

from __future__ import annotations

import pytest

from dashboard import state


def test_scenario_round_trips_through_the_query() -> None:
    sc = state.Scenario("cnemc_bth_2019", "2019-01-12", 7, "spin", ("1001A", "1002A"))
    q = sc.to_query(page="masking_lab")
    assert q == {"dataset": "cnemc_bth_2019", "date": "2019-01-12", "hour": "7", "model": "spin",
                 "masked": "1001A,1002A", "page": "masking_lab"}
    st_ = state.query_to_state(q)
    assert st_[state.K_DATASET] == "cnemc_bth_2019" and st_[state.K_HOUR] == 7
    assert st_[state.K_MASKED] == ("1001A", "1002A") and st_[state.K_PAGE] == "masking_lab"


@pytest.mark.parametrize(("text", "want"), [("mean", None), (None, None), ("0", 0), ("23", 23), ("24", "invalid"),
                                            ("-1", "invalid"), ("noon", "invalid")])
def test_parse_hour(text, want) -> None:
    assert state.parse_hour(text) == want


def test_parse_masked_sorts_dedups_and_ignores_blanks() -> None:
    assert state.parse_masked("B, A,,A ") == ("A", "B")
    assert state.parse_masked("") == ()
