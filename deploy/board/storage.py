"""The class board's storage: shared runs of the amnesia panels, in rounds, behind one small interface.

    store = open_store("sqlite:////var/lib/course-hub/board.sqlite")

The URL names where the runs live. `sqlite:///PATH` (an absolute path: four slashes in all) is SQLite from Python's
standard library, one file in the hub's state folder: no server to run, and every run survives a restart of the board
or the hub. A larger deployment points the URL at a file on a persistent volume (Zero to JupyterHub: the hub's
/srv/jupyterhub), or adds a scheme here: the board reads and writes through the five methods of Store alone.
"""
import json
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

SCHEMA = """
CREATE TABLE IF NOT EXISTS rounds (id INTEGER PRIMARY KEY, started REAL NOT NULL, started_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, round INTEGER NOT NULL, student TEXT NOT NULL, key TEXT NOT NULL,
    run TEXT NOT NULL, stored REAL NOT NULL, UNIQUE (round, student, key));
"""
KEY = ("notebook", "model", "length", "epochs", "seed", "size")  # a repeat of these settings replaces the run


class Store:
    """Runs in rounds, in one SQLite file; every method is one transaction, safe from several threads."""

    def __init__(self, path):
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")    # readers never wait for a writer
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a committed run survives a crash of the board
        self._db.executescript(SCHEMA)
        if self.current_round() is None:
            self.new_round("the board")

    def _one(self, sql, args=()):
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def current_round(self):
        """The number of the round shared runs go into now, or None before the first."""
        row = self._one("SELECT max(id) FROM rounds")
        return row[0] if row else None

    def new_round(self, by):
        """Start a new round (the teacher's): later runs go into it; earlier rounds stay stored. Its number."""
        with self._lock:
            cur = self._db.execute("INSERT INTO rounds (started, started_by) VALUES (?, ?)", (time.time(), by))
            return cur.lastrowid

    def put(self, student, runs):
        """Store `runs` (checked dicts) as `student`'s in the current round, all or none; a run with the same
        settings (KEY) as one of the student's own replaces it. The ids stored."""
        ids = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                number = self._db.execute("SELECT max(id) FROM rounds").fetchone()[0]
                for run in runs:
                    key = json.dumps([run[k] for k in KEY])
                    cur = self._db.execute(
                        "INSERT INTO runs (round, student, key, run, stored) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (round, student, key) DO UPDATE SET run = excluded.run, stored = excluded.stored "
                        "RETURNING id", (number, student, key, json.dumps(run), time.time()))
                    ids.append(cur.fetchone()[0])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return ids

    def runs(self, round=None):
        """Every run of `round` (default: the current one), oldest first: dicts with id, student and the run."""
        number = self.current_round() if round is None else round
        with self._lock:
            rows = self._db.execute("SELECT id, student, run, stored FROM runs WHERE round = ? ORDER BY id",
                                    (number,)).fetchall()
        return [{"id": i, "student": s, **json.loads(r), "stored": t} for i, s, r, t in rows]

    def delete(self, ids=None):
        """Delete the runs `ids` of any round, or with None every run of the current round; how many went."""
        with self._lock:
            if ids is None:
                cur = self._db.execute("DELETE FROM runs WHERE round = (SELECT max(id) FROM rounds)")
            else:
                cur = self._db.executemany("DELETE FROM runs WHERE id = ?", [(int(i),) for i in ids])
            return cur.rowcount

    def close(self):
        """Close the database file."""
        with self._lock:
            self._db.close()


def open_store(url):
    """The Store at `url`: sqlite:/// and an absolute path (its folder must exist); else a ValueError naming it."""
    parts = urlsplit(url)
    text = parts.path[1:]  # sqlite:/// and /absolute/path, as JupyterHub's db_url (a relative path is refused)
    if parts.scheme != "sqlite" or parts.netloc or not text.startswith("/") or text == "/":
        raise ValueError(f"COURSE_BOARD_DB must be sqlite:/// and an absolute path, e.g. "
                         f"sqlite:////var/lib/course-hub/board.sqlite, got {url!r}")
    path = Path(text)
    if not path.parent.is_dir():
        raise ValueError(f"COURSE_BOARD_DB {url!r}: the folder {path.parent} does not exist")
    return Store(path)
