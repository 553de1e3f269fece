"""Submissions from anywhere: links and special files are never followed, misnamed notebooks and archives are
named, LMS bulk downloads are collected safely, and grades go back in the layout each LMS imports."""

import csv
import io
import os
import stat
import tarfile
import warnings
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import nbformat
import pytest

from rl_course import cli
from rl_course.course import archives, autograde, lms, nbgrader_setup, reports, submissions
from rl_course.course.layout import assignments

ASSIGNMENT, NOTEBOOK = "01_td_lambda", "td_lambda.ipynb"
SECRET = "SECRET-MARKER-5d1c9e"  # what the grader's own file holds; no output may ever show it
TIMEOUT = 30


def _trimmed(course_root, folder="solutions"):
    """The notebook of 01 without its demo cells: cheap to grade, the same 12 points."""
    nb = nbformat.read(course_root / folder / ASSIGNMENT / NOTEBOOK, as_version=4)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in {"check_against_sweep", "sweep"}]
    return nbformat.writes(nb)


def _run(*argv) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = cli.main([str(a) for a in argv])
    return code, stdout.getvalue(), stderr.getvalue()


def _zip(path: Path, members: list, compression=zipfile.ZIP_STORED) -> Path:
    """A zip of (name, bytes or str, date_time or None, unix mode or None) members."""
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data, when, mode in members:
            info = zipfile.ZipInfo(name, when or (2026, 1, 1, 12, 0, 0))
            info.compress_type = compression
            if mode is not None:
                info.create_system, info.external_attr = 3, mode << 16
            z.writestr(info, data)
    return path


# ---------------------------------------------------------------- the submitted folder, without grading


@pytest.fixture
def layout(course_root, tmp_path):
    return _make_layout(course_root, tmp_path)


def _make_layout(course_root, tmp_path):
    """A submitted folder with one case of each kind, and the grader's secret file outside it."""
    secret = tmp_path / "grader" / "passwords.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    solution = course_root / "solutions" / ASSIGNMENT
    sub = tmp_path / "submitted"

    def folder(student):
        path = sub / student / ASSIGNMENT
        path.mkdir(parents=True, exist_ok=True)
        return path

    (folder("honest") / NOTEBOOK).write_text(_trimmed(course_root))
    (folder("mallory") / NOTEBOOK).symlink_to(solution / NOTEBOOK)
    (sub / "eve").mkdir()
    (sub / "eve" / ASSIGNMENT).symlink_to(solution, target_is_directory=True)
    (folder("leak") / NOTEBOOK).symlink_to(secret)
    os.mkfifo(folder("fifo") / NOTEBOOK)
    (folder("renamed") / "td_lambda (1).ipynb").write_text(_trimmed(course_root))
    for name in ("td_lambda-1.ipynb", "td_lambda (2).ipynb"):
        (folder("two_candidates") / name).write_text(_trimmed(course_root))
    (sub / "zipped").mkdir()
    _zip(sub / "zipped" / f"{ASSIGNMENT}.zip", [(NOTEBOOK, _trimmed(course_root), None, None)])
    (sub / "linked_student").symlink_to(sub / "honest", target_is_directory=True)
    (folder("not_json") / NOTEBOOK).write_text(SECRET + " {")
    return dict(sub=sub, secret=secret, solution=solution)


def _copy(layout, student, tmp_path, misnamed="grade"):
    return autograde._copy_gradable(layout["sub"] / student / ASSIGNMENT, tmp_path / "copy" / student,
                                     layout["solution"], misnamed)


def test_discovery_names_links_archives_and_unknown_folders_and_follows_none(layout):
    problems = []
    tasks = submissions.discover(layout["sub"], assignments(Path(__file__).parents[1]), problems.append)
    students = {t.student for t in tasks}
    assert students == {"honest", "mallory", "eve", "leak", "fifo", "renamed", "two_candidates", "not_json"}
    sub = layout["sub"]
    assert any(p.startswith(f"{sub / 'linked_student'}: a symbolic link where a student's folder should be") for p in problems), problems
    assert any(p.startswith(f"{sub / 'zipped' / (ASSIGNMENT + '.zip')}: an archive where the assignment folder {ASSIGNMENT}/ should be")
               for p in problems), problems
    assert len(problems) == 2, problems


def test_the_submitted_folder_itself_may_not_be_a_link(layout, course_root, tmp_path):
    (tmp_path / "via_link").symlink_to(layout["sub"], target_is_directory=True)
    code, _, err = _run("grade", tmp_path / "via_link", "--course", course_root)
    assert code == 2 and "a symbolic link" in err and "\n" not in err.strip()


@pytest.mark.parametrize("student, says", [
    ("mallory", f"{NOTEBOOK}: a symbolic link, not read"),
    ("leak", f"{NOTEBOOK}: a symbolic link, not read"),
    ("fifo", f"{NOTEBOOK}: a FIFO (named pipe), not read"),
    ("eve", f"{ASSIGNMENT}: a symbolic link, not followed"),
    ("not_json", f"{NOTEBOOK}: not a readable notebook (not JSON: line 1, column"),
    ("two_candidates", f"{NOTEBOOK}: missing; 2 notebooks of other names are there, none graded (which one is it?): "
                       "td_lambda (2).ipynb, td_lambda-1.ipynb"),
])
def test_what_is_not_read_is_named_with_the_reason_and_nothing_is_copied(layout, tmp_path, student, says):
    problems = _copy(layout, student, tmp_path)
    assert len(problems) == 1 and says in problems[0], problems
    assert SECRET not in problems[0]
    assert not list((tmp_path / "copy" / student).iterdir())


def test_a_misnamed_notebook_is_graded_under_the_assignments_name_or_refused_by_the_setting(layout, tmp_path):
    problems = _copy(layout, "renamed", tmp_path)
    assert problems == [f"{layout['sub'] / 'renamed' / ASSIGNMENT / 'td_lambda (1).ipynb'}: graded as {NOTEBOOK}, "
                        f"the assignment's notebook (misnamed)"]
    assert [p.name for p in (tmp_path / "copy" / "renamed").iterdir()] == [NOTEBOOK]
    problems = autograde._copy_gradable(layout["sub"] / "renamed" / ASSIGNMENT, tmp_path / "refused", layout["solution"], "refuse")
    assert len(problems) == 1 and "td_lambda (1).ipynb is there instead, not graded" in problems[0], problems
    assert not list((tmp_path / "refused").iterdir())


def test_a_cell_with_a_large_saved_output_is_named_and_the_notebook_still_copied(course_root, tmp_path):
    nb = nbformat.reads(_trimmed(course_root, "notebooks"), as_version=4)
    printing = nbformat.v4.new_code_cell('print("0123456789" * 200_000)')
    printing.outputs = [nbformat.v4.new_output("stream", name="stdout", text="0123456789" * 200_000)]
    nb.cells.insert(3, printing)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 1_000)]
    shown = Path("submitted/dave") / ASSIGNMENT / NOTEBOOK
    assert submissions.large_outputs(nb, shown, limit=1_500_000) == [
        f"{shown}: cell 4 holds 2 MB of saved output (graded; grading runs the cell again)"]
    assert submissions.large_outputs(nb, shown, limit=2_100_000) == []  # the limit is the cell's, not a smaller one
    assert submissions.large_outputs(nb, shown) == []  # 2 MB is under the default
    with pytest.raises(ValueError, match="limit: expected a positive"):
        submissions.large_outputs(nb, shown, limit=0)
    folder = tmp_path / "submitted" / "dave" / ASSIGNMENT
    folder.mkdir(parents=True)
    printing.outputs[0].text *= 6  # 12 MB
    nbformat.write(nb, folder / NOTEBOOK)
    problems = autograde._copy_gradable(folder, tmp_path / "copy", course_root / "solutions" / ASSIGNMENT)
    assert problems == [f"{folder / NOTEBOOK}: cell 4 holds 12 MB of saved output (graded; grading runs the cell again)"]
    assert (tmp_path / "copy" / NOTEBOOK).is_file()


def test_the_misnamed_setting_is_read_from_the_course_config(course_copy):
    with open(course_copy / "nbgrader_config.py", "a") as f:
        f.write('\nc.Submissions.misnamed_notebooks = "refuse"\n')
    assert submissions.Submissions(config=nbgrader_setup.course_config(course_copy)).misnamed_notebooks == "refuse"


def test_an_unknown_misnamed_setting_is_a_one_line_error(course_copy, layout):
    with open(course_copy / "nbgrader_config.py", "a") as f:
        f.write('\nc.Submissions.misnamed_notebooks = "sometimes"\n')
    code, _, err = _run("grade", layout["sub"], "--course", course_copy)
    assert code == 2 and "c.Submissions.misnamed_notebooks" in err and "'sometimes'" in err, err


def test_a_link_swapped_in_for_a_student_folder_after_discovery_is_not_followed(layout, tmp_path):
    honest = layout["sub"] / "honest"
    honest.rename(layout["sub"] / "moved")
    honest.symlink_to(layout["solution"].parent, target_is_directory=True)  # .../solutions holds 01_td_lambda/
    problems = _copy(layout, "honest", tmp_path)
    assert problems and "honest: a symbolic link, not followed" in problems[0], problems


# ---------------------------------------------------------------- archives


@pytest.mark.parametrize("members, says", [
    ([("../evil.ipynb", "x", None, None)], "'../evil.ipynb': a path that climbs out of the archive (..), refused"),
    ([("a/../../evil.ipynb", "x", None, None)], "climbs out of the archive"),
    ([("/etc/cron.d/evil", "x", None, None)], "'/etc/cron.d/evil': an absolute path, refused"),
    ([("link.ipynb", "/etc/passwd", None, stat.S_IFLNK | 0o777)], "'link.ipynb': a symbolic link, refused"),
    ([("pipe", "", None, stat.S_IFIFO | 0o644)], "'pipe': a FIFO, refused"),
    ([("tty", "", None, stat.S_IFCHR | 0o644)], "'tty': a device file, refused"),
])
def test_archive_hazards_are_refused_by_name(tmp_path, members, says):
    path = _zip(tmp_path / "download.zip", [("leeann_101_1_td_lambda.ipynb", "{}", None, None), *members])
    with pytest.raises(archives.ArchiveRefused) as error:
        archives.check_archive(path, 2**20, 100)
    assert says in str(error.value) and "refused, nothing collected" in str(error.value)


def test_an_honest_archive_passes_with_its_files(tmp_path):
    path = _zip(tmp_path / "download.zip", [("a/leeann_101_1_td_lambda.ipynb", "{}", None, None), ("readme.txt", "hi", None, 0o100644)])
    members = archives.check_archive(path, 2**20, 100)
    assert [(m.path, m.data) for m in members] == [("a/leeann_101_1_td_lambda.ipynb", b"{}"), ("readme.txt", b"hi")]


def test_a_zip_bomb_over_the_size_cap_and_too_many_files_are_refused_without_unpacking(tmp_path):
    bomb = _zip(tmp_path / "bomb.zip", [("leeann_101_1_td_lambda.ipynb", b"\0" * 50 * 2**20, None, None)], zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 2**20 / 10
    with pytest.raises(archives.ArchiveRefused, match=r"more than 10485760 bytes \(10 MiB\) once unpacked .*zip bomb"):
        archives.check_archive(bomb, 10 * 2**20, 100)
    assert len(archives.check_archive(bomb, 60 * 2**20, 100)) == 1
    many = _zip(tmp_path / "many.zip", [(f"f{i}.txt", "x", None, None) for i in range(11)])
    with pytest.raises(archives.ArchiveRefused, match="more than 10 files"):
        archives.check_archive(many, 2**20, 10)


def test_a_nested_archive_is_checked_as_nbgrader_would_open_it(tmp_path):
    inner = _zip(tmp_path / "inner.zip", [("x/../../../evil.ipynb", "x", None, None)])
    outer = _zip(tmp_path / "outer.zip", [("leeann_101_1_work.zip", inner.read_bytes(), None, None)])
    with pytest.raises(archives.ArchiveRefused, match=r"outer.zip/leeann_101_1_work.zip: 'x/../../../evil.ipynb': a path that climbs"):
        archives.check_archive(outer, 2**20, 100)


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo"])
def test_tar_links_and_special_files_are_refused(tmp_path, kind):
    path = tmp_path / "download.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("leeann_101_1_td_lambda.ipynb")
        info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(archives.ArchiveRefused, match={"symlink": "a symbolic link", "hardlink": "a hard link", "fifo": "a FIFO"}[kind]):
        archives.check_archive(path, 2**20, 100)


def test_collect_refuses_a_hazardous_archive_in_one_line_and_writes_nothing(course_root, tmp_path):
    path = _zip(tmp_path / "download.zip", [("leeann_101_1_td_lambda.ipynb", "{}", None, None), ("../../evil.ipynb", "x", None, None)])
    code, out, err = _run("collect", path, "--lms", "canvas", "--into", tmp_path / "submitted", "--course", course_root)
    assert code == 2 and "climbs out of the archive" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "submitted").exists() and not (tmp_path.parent / "evil.ipynb").exists()


def test_collect_without_a_naming_is_explained(course_root, tmp_path):
    path = _zip(tmp_path / "download.zip", [("leeann_101_1_td_lambda.ipynb", "{}", None, None)])
    code, _, err = _run("collect", path, "--into", tmp_path / "submitted", "--course", course_root)
    assert code == 2 and "give --lms canvas|moodle" in err


# ---------------------------------------------------------------- grade sheets


def test_grade_sheets_round_trip_with_each_lms_headers(tmp_path):
    grades = [reports.Grade("101", "01_td_lambda", 12.0, 12.0), reports.Grade("102", "01_td_lambda", 4.5, 12.0, "",
                                                                                     ("td_lambda.ipynb test_x (0 / 1): AssertionError: no",
                                                                                      )),
              reports.Grade("102", "03_gae", 7.0, 10.0)]
    roster = {"101": ("leeann", "canvas"), "102": ("Bob Smith", "canvas")}
    [canvas] = lms.write_sheet(grades, "canvas", tmp_path / "grades-canvas.csv", roster)
    rows = list(csv.reader(canvas.open(newline="")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01_td_lambda", "03_gae"]
    assert rows[1] == ["Points Possible", "", "", "", "", "12", "10"]
    assert rows[2:] == [["leeann", "101", "", "", "", "12", ""], ["Bob Smith", "102", "", "", "", "4.5", "7"]]
    moodle = lms.write_sheet(grades, "moodle", tmp_path / "grades-moodle.csv", roster)
    assert [p.name for p in moodle] == ["grades-moodle-01_td_lambda.csv", "grades-moodle-03_gae.csv"]
    rows = list(csv.DictReader(moodle[0].open(newline="")))
    assert list(rows[0]) == ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
                             "Last modified (submission)", "Last modified (grade)", "Feedback comments"]
    assert [(r["Identifier"], r["Full name"], r["Grade"], r["Maximum Grade"]) for r in rows] == [
        ("Participant 101", "leeann", "12", "12"), ("Participant 102", "Bob Smith", "4.5", "12")]
    assert rows[1]["Feedback comments"] == "td_lambda.ipynb test_x (0 / 1): AssertionError: no"


# ---------------------------------------------------------------- graded through rl-course, one run


# name: the members each archive adds to an honest one, and what refuses it
HAZARDS = {
    "climbs_out": lambda layout: [("../../td_lambda.ipynb", "{}", None, None)],
    "absolute": lambda layout: [(str(layout["secret"].parent / "td_lambda.ipynb"), "{}", None, None)],
    "link": lambda layout: [("mallory_198_90010_td_lambda.ipynb", str(layout["secret"]), None, stat.S_IFLNK | 0o777)],
    "bomb": lambda layout: [("bomb_197_90011_td_lambda.ipynb", b" " * 6 * 2**20, None, None)],
}
REFUSED_BECAUSE = {"climbs_out": "a path that climbs out of the archive (..), refused", "absolute": "an absolute path, refused",
                   "link": "'mallory_198_90010_td_lambda.ipynb': a symbolic link, refused", "bomb": "(5 MiB) once unpacked"}


@pytest.fixture(scope="module")
def graded(course_root, tmp_path_factory):
    """The hostile layout, a Canvas download collected beside it, graded in one run with --lms canvas;
    a Moodle download collected and graded with --lms moodle."""
    tmp = tmp_path_factory.mktemp("submissions")
    layout_ = _make_layout(course_root, tmp)
    solution, release = _trimmed(course_root), _trimmed(course_root, "notebooks")
    canvas = _zip(tmp / "submissions.zip", [
        ("leeann_101_90001_td_lambda.ipynb", solution, None, None),
        ("bobsmith_102_90002_td_lambda.ipynb", release, (2026, 3, 1, 9, 0, 0), None),
        ("bobsmith_LATE_102_90003_td_lambda.ipynb", solution, (2026, 3, 2, 9, 0, 0), None),  # the latest: it wins
        ("carolking_103_90004_td_lambda-1.ipynb", solution, None, None),  # Canvas renames a second upload
        ("notes.txt", "not a submission", None, None)])
    moodle = _zip(tmp / "moodle.zip", [
        ("Ann Lee_700001_assignsubmission_file_/td_lambda.ipynb", solution, None, None),
        ("Dan Wu_700002_assignsubmission_file_td_lambda.ipynb", release, None, None)])
    capped = tmp / "course"  # the course, with a small cap on an archive's size
    capped.mkdir()
    for name in ("solutions", "notebooks"):
        (capped / name).symlink_to(course_root / name, target_is_directory=True)
    (capped / "nbgrader_config.py").write_text((course_root / "nbgrader_config.py").read_text() + '\nc.Collect.max_total_size = "5M"\n')
    runs = {}
    for hazard, members in HAZARDS.items():  # each refused whole: its honest-looking member 199 is not collected either
        path = _zip(tmp / f"{hazard}.zip", [("zoe_199_90009_td_lambda.ipynb", solution, None, None), *members(layout_)],
                    zipfile.ZIP_DEFLATED)
        runs[f"refused {hazard}"] = _run("collect", path, "--lms", "canvas", "--into", layout_["sub"], "--course", capped)
    runs["collect_canvas"] = _run("collect", canvas, "--lms", "canvas", "--into", layout_["sub"], "--course", course_root)
    runs["collect_moodle"] = _run("collect", moodle, "--lms", "moodle", "--into", tmp / "moodle", "--course", course_root)
    common = ["--timeout", TIMEOUT, "--jobs", 2, "--course", course_root]
    runs["grade"] = _run("feedback", layout_["sub"], "--out", tmp / "feedback", "--csv", tmp / "grades.csv", "--lms", "canvas",
                         "--db", f"sqlite:///{tmp / 'gradebook.db'}", *common)
    runs["moodle"] = _run("grade", tmp / "moodle", "--csv", tmp / "moodle.csv", "--lms", "moodle",
                          "--db", f"sqlite:///{tmp / 'moodle.db'}", *common)
    rows = {r["student"]: r for r in csv.DictReader((tmp / "grades.csv").open(newline=""))}
    return dict(runs=runs, rows=rows, tmp=tmp, **layout_)


@pytest.mark.notebook
def test_every_case_is_graded_in_one_run_and_the_honest_student_keeps_full_marks(graded):
    code, out, err = graded["runs"]["grade"]
    assert code == 0, err
    scores = {s: (r["score"], r["max_score"]) for s, r in graded["rows"].items()}
    assert scores == {"honest": ("12", "12"), "renamed": ("12", "12"), "mallory": ("0", "12"), "eve": ("0", "12"),
                      "leak": ("0", "12"), "fifo": ("0", "12"), "two_candidates": ("0", "12"), "not_json": ("0", "12"),
                      "101": ("12", "12"), "102": ("12", "12"), "103": ("12", "12")}, err
    assert graded["rows"]["honest"]["problem"] == "" and graded["rows"]["honest"]["feedback"] == ""
    sub = graded["sub"]
    for line in (f"{sub / 'mallory' / ASSIGNMENT / NOTEBOOK}: a symbolic link, not read",
                 f"{sub / 'eve' / ASSIGNMENT}: a symbolic link, not followed",
                 f"{sub / 'fifo' / ASSIGNMENT / NOTEBOOK}: a FIFO (named pipe), not read",
                 f"{sub / 'renamed' / ASSIGNMENT / 'td_lambda (1).ipynb'}: graded as {NOTEBOOK}",
                 f"{sub / '103' / ASSIGNMENT / 'td_lambda-1.ipynb'}: graded as {NOTEBOOK}",
                 f"{sub / 'zipped' / (ASSIGNMENT + '.zip')}: an archive where the assignment folder {ASSIGNMENT}/ should be",
                 f"{sub / 'linked_student'}: a symbolic link where a student's folder should be"):
        assert f"problem: {line}" in err, (line, err)


@pytest.mark.notebook
def test_no_output_csv_or_feedback_page_holds_the_secret(graded):
    texts = [out + err for out, err in ((o, e) for _, o, e in graded["runs"].values())]
    texts += [p.read_text(errors="replace") for p in graded["tmp"].rglob("*") if p.is_file() and p.suffix in (".csv", ".html")]
    assert len(texts) > 6
    assert not [t for t in texts if SECRET in t]
    assert not (graded["tmp"] / "feedback" / "leak").exists()
    assert (graded["tmp"] / "feedback" / "honest" / ASSIGNMENT / "td_lambda.html").is_file()


@pytest.mark.notebook
def test_a_canvas_download_is_collected_with_the_latest_submission_and_exported_for_canvas(graded):
    code, out, err = graded["runs"]["collect_canvas"]
    assert code == 0, err
    assert "  101 (leeann): submissions/leeann_101_90001_td_lambda.ipynb" in out, out
    assert "duplicate: student 102 handed in td_lambda.ipynb 2 times: kept bobsmith_LATE_102_90003_td_lambda.ipynb" in out, out
    assert "not matched to a student: submissions/notes.txt" in out, out
    rows = list(csv.reader((graded["tmp"] / "grades-canvas.csv").open(newline="")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT] and rows[1][0] == "Points Possible"
    by_id = {r[1]: r for r in rows[2:]}
    assert by_id["101"] == ["leeann", "101", "", "", "", "12"] and by_id["102"][0] == "bobsmith" and by_id["102"][5] == "12"
    assert by_id["honest"] == ["honest", "honest", "", "", "", "12"] and by_id["leak"][5] == "0"


@pytest.mark.notebook
def test_a_moodle_download_is_collected_graded_and_exported_as_its_grading_worksheet(graded):
    code, out, err = graded["runs"]["collect_moodle"]
    assert code == 0 and "700001 (Ann Lee)" in out and "700002 (Dan Wu)" in out, out + err
    code, out, err = graded["runs"]["moodle"]
    assert code == 0, err
    rows = list(csv.DictReader((graded["tmp"] / f"moodle-moodle-{ASSIGNMENT}.csv").open(newline="")))
    assert list(rows[0])[:6] == ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade"]
    assert [(r["Identifier"], r["Full name"], r["Grade"], r["Maximum Grade"]) for r in rows] == [
        ("Participant 700001", "Ann Lee", "12", "12"), ("Participant 700002", "Dan Wu", "0", "12")]


@pytest.mark.notebook
@pytest.mark.parametrize("hazard", sorted(HAZARDS))
def test_a_hazardous_download_is_refused_whole_in_the_same_run(graded, hazard):
    code, out, err = graded["runs"][f"refused {hazard}"]
    assert code == 2 and REFUSED_BECAUSE[hazard] in err and "refused, nothing collected" in err, err
    assert not {"197", "198", "199"} & set(graded["rows"]) and not (graded["sub"] / "199").exists()
    assert not (graded["tmp"] / "td_lambda.ipynb").exists() and not (graded["secret"].parent / "td_lambda.ipynb").exists()
