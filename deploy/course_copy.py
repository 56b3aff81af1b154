"""The course's notebooks into a student's ~/course: new ones are added, nothing already there is touched.

    python3 -I deploy/course_copy.py NOTEBOOKS HOME      (server mode runs it as the student, never as root)

Links a student planted are never followed: ~/course must be a real folder (a link or a file there means nothing is
copied), and each notebook is created afresh under a temporary name and then hard-linked to its own name, which
fails when that name exists in any form: the student's own file, a link, a dangling link. Standard library only, so
any Python 3 the student can run will do. Prints {"copied": [...], "kept": [...]} as JSON; exit status 3 when
~/course is not a folder.
"""
import errno
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

NOT_A_FOLDER = 3  # exit status: ~/course is a link or a file


def course_files(notebooks):
    """The files handed out: every notebook and the glossary."""
    notebooks = Path(notebooks)
    return sorted(notebooks.glob("*.ipynb")) + [p for p in [notebooks / "GLOSSARY.md"] if p.is_file()]


def _open_course(home):
    """A file descriptor of `home`/course, made when missing; NotADirectoryError when it is a link or a file."""
    home_fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            os.mkdir("course", 0o755, dir_fd=home_fd)
        except FileExistsError:
            pass
        try:
            return os.open("course", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=home_fd)
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.ENOTDIR):  # a link; a file
                raise
            raise NotADirectoryError(f"{Path(home) / 'course'} is a link or a file, not a folder: "
                                     f"nothing copied ({error.strerror})") from None
    finally:
        os.close(home_fd)


def _exists(name, dir_fd):
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _copy_one(source, dir_fd):
    """Copy `source` into the folder `dir_fd` unless its name is taken there; True when copied."""
    name = source.name
    if _exists(name, dir_fd):
        return False
    partial = f".{name}.{secrets.token_hex(6)}.partial"
    with open(source, "rb") as src:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out)
                stat = os.fstat(src.fileno())
                os.utime(out.fileno(), ns=(stat.st_atime_ns, stat.st_mtime_ns))
            try:  # link(2) never replaces a name that exists, so a file made meanwhile is kept
                os.link(partial, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
                return True
            except FileExistsError:
                return False
        finally:
            os.unlink(partial, dir_fd=dir_fd)


def copy_course(notebooks, home):
    """Copy the course into `home`/course; (names copied, names kept as the student has them)."""
    course_fd = _open_course(home)
    copied, kept = [], []
    try:
        for source in course_files(notebooks):
            (copied if _copy_one(source, course_fd) else kept).append(source.name)
    finally:
        os.close(course_fd)
    return copied, kept


def main(argv):
    if len(argv) != 2:
        print("usage: course_copy.py NOTEBOOKS HOME", file=sys.stderr)
        return 2
    try:
        copied, kept = copy_course(*argv)
    except NotADirectoryError as error:
        print(error, file=sys.stderr)
        return NOT_A_FOLDER
    print(json.dumps({"copied": copied, "kept": kept}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
