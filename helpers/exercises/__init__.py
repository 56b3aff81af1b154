"""Exercises the notebooks check: check(fn) runs a student's function on random inputs against a reference.

    from helpers.exercises import check, use
    ok = check(scaled_scores)     # prints one line, Tamil / English: passed, not done yet, or what is wrong
    scores = use(scaled_scores)   # the student's function when it passes, else the reference

The engine is helpers.exercises.check; each exercise is declared once, by topic, in helpers.exercises.recurrence
(notebooks 01-05, 11), .attention (06-09, 11, 12) and .language (10, 13): its reference, a generator of random
inputs and its hints, in order.
"""
from . import attention, language, linear, recurrence  # each registers its exercises in EXERCISES
from .check import EXERCISES, Exercise, check, diagnose, exercise, reference, same, use

__all__ = ["EXERCISES", "Exercise", "attention", "check", "diagnose", "exercise", "language", "linear", "recurrence",
           "reference", "same", "use"]
