# The met/missed fields every bench line carries.
from bench.target import check


def test_check_marks_met_and_missed_and_keeps_the_worst():
    row = {"a": 10.0, "b": 3}
    assert check(row, "a", "<=", 15.0)
    assert row["a_target"] == "<= 15.0" and row["a_status"] == "met" and row["status"] == "met"
    assert not check(row, "b", ">=", 4)
    assert row["b_status"] == "missed" and row["status"] == "missed"
    assert check(row, "a", "<=", 10.0)           # the boundary counts as met
    assert row["status"] == "missed"             # one miss is enough for the line


def test_a_missing_figure_is_missed():
    row = {"a": None}
    assert not check(row, "a", "<=", 1)
    assert row["a_status"] == "missed"
