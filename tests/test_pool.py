"""The local worker pool (rl_course/course/pool.py): the order submissions are handed out in."""

from pathlib import Path

from rl_course.course import pool
from rl_course.course.records import Submission


def _submission(student, assignment):
    return Submission(student, assignment, Path(student) / assignment, {}, [], f"{student}/{assignment}")


def test_the_assignments_that_train_are_handed_out_first_each_in_student_order():
    pending = [_submission(s, a) for s, a in [("bo", "01_td_lambda"), ("al", "05_continuous"), ("cy", "04_ppo"),
                                              ("al", "01_td_lambda"), ("bo", "05_continuous"), ("al", "04_ppo")]]
    order = [(s.assignment, s.student) for s in pool.longest_first(pending)]
    assert order == [("05_continuous", "al"), ("05_continuous", "bo"), ("04_ppo", "al"), ("04_ppo", "cy"),
                     ("01_td_lambda", "al"), ("01_td_lambda", "bo")]
    assert [s.student for s in pending] == ["bo", "al", "cy", "al", "bo", "al"]  # a new list: the caller's is left alone
