"""Normalization and winnowing (rl_course.course.similarity): renaming, reformatting and comments change nothing;
the skeleton, the course's code and what much of the class writes alike are never evidence."""

from rl_course.course import similarity

LOOP = '''def rms_error(V, v_true):
    """RMS error over the non-terminal states."""
    total = 0.0
    count = len(V) - 2
    for i in range(1, len(V) - 1):
        d = float(V[i]) - float(v_true[i])
        total += d * d
    return float(np.sqrt(total / count))
'''
RENAMED = '''def rms_error(values, truth):
    # my own work
    acc = 1
    n = len( values ) - 2

    for k in range(1,len(values)-1):
        diff = float(values[k]) - float(truth[k])   # error
        acc += diff*diff
    return float(np.sqrt(acc/n))
'''
VECTORIZED = '''def rms_error(V, v_true):
    diff = np.asarray(V, dtype=float)[1:-1] - np.asarray(v_true, dtype=float)[1:-1]
    return float(np.sqrt(np.mean(diff ** 2)))
'''
SKELETON = '''def rms_error(V, v_true):
    """RMS error over the non-terminal states."""
    # YOUR CODE HERE
    raise NotImplementedError()
'''


def test_renaming_reformatting_and_comments_leave_the_tokens_unchanged():
    assert [t for t, _ in similarity.tokens(LOOP)] == [t for t, _ in similarity.tokens(RENAMED)]
    assert similarity.fingerprints(LOOP).keys() == similarity.fingerprints(RENAMED).keys()


def test_tokens_carry_their_lines_and_leave_out_docstrings():
    tokens = similarity.tokens(LOOP)
    assert tokens[0] == ("FunctionDef", 1) and 2 not in {line for _, line in tokens}
    assert similarity.tokens("def f(:\n") == [] and similarity.tokens("%timeit 1\nx = 1\n") == [("Assign", 2), ("Name", 2), ("Constant", 2)]


def test_winnowing_keeps_a_fingerprint_of_every_long_shared_run():
    prints = similarity.fingerprints(LOOP)
    n = len(similarity.tokens(LOOP)) - similarity.K + 1
    assert n / similarity.WINDOW <= len(prints) <= n  # at least one per window, at most one per k-gram
    assert similarity.fingerprints("x = 1\n")  # shorter than a k-gram: one fingerprint of the whole


def test_a_copy_is_the_top_pair_with_its_lines_marked_and_an_independent_answer_is_not_flagged():
    pairs = similarity.similar_pairs("rms_error", {"ann": LOOP, "bo": RENAMED, "cy": VECTORIZED}, common_share=1.0)
    assert [(p.first, p.second, p.score) for p in pairs] == [("ann", "bo", 1.0)]
    assert pairs[0].lines_first == {1, 3, 4, 5, 6, 7, 8} and pairs[0].lines_second == {1, 3, 4, 6, 7, 8, 9}


def test_the_skeleton_and_what_most_of_the_class_writes_alike_flag_nobody():
    excluded = similarity.excluded_fingerprints([SKELETON])
    assert similarity.similar_pairs("rms_error", {"ann": SKELETON, "bo": SKELETON}, excluded) == []
    many = {f"s{i}": VECTORIZED for i in range(10)} | {"ann": LOOP, "bo": RENAMED}
    pairs = similarity.similar_pairs("rms_error", many, common_share=0.2)
    assert [(p.first, p.second) for p in pairs] == [("ann", "bo")]
    assert similarity.similar_pairs("rms_error", {"ann": LOOP, "bo": RENAMED}, similarity.excluded_fingerprints([LOOP])) == []


def test_a_thousand_answers_are_compared_quickly():
    import time

    answers = {f"s{i}": LOOP.replace("total", f"t{i}") if i % 2 else VECTORIZED for i in range(1000)}
    started = time.perf_counter()
    similarity.similar_pairs("rms_error", answers)
    assert time.perf_counter() - started < 60  # a hang guard; the figure is benchmarks/report.py's
