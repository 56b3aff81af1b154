#!/bin/sh
# Before `make` installs anything into the virtual environment: refuse one that cannot serve the course, naming the fix.
#
#     sh tools/check_venv.sh VENV PYTHON
#
# VENV is the virtual environment (.venv), PYTHON the interpreter `make` would create it with. A VENV that exists must
# have a Python that runs and is 3.11 or newer (one made by an older Python, or whose Python was since removed, would
# only fail later with a wall of pip errors); with no VENV yet, PYTHON must be 3.11 or newer. Silent when all is well.
venv=$1
python=$2

version() {  # "3.11" for a Python that runs, nothing otherwise
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

too_old() {  # the course needs Python 3.11 or newer (pyproject.toml: requires-python)
    major=${1%%.*}
    minor=${1#*.}
    [ "$major" -lt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -lt 11 ]; }
}

new_python() {  # what `make` would make the new environment with
    v=$(version "$python")
    if [ -z "$v" ]; then
        echo "no Python to make it with (PYTHON=${python:-nothing}): install Python 3.11 or 3.12, or name one: make lab PYTHON=/path/to/python3.12"
    elif too_old "$v"; then
        echo "$python is Python $v, too old: install Python 3.11 or 3.12, or name one: make lab PYTHON=/path/to/python3.12"
    else
        echo "make then creates it anew with $python (Python $v)"
    fi
}

if [ -e "$venv" ] || [ -L "$venv" ]; then
    made=$(sed -n 's/^version[_a-z]* *= *\([0-9.]*[0-9]\).*/\1/p' "$venv/pyvenv.cfg" 2>/dev/null | head -n 1)
    v=$(version "$venv/bin/python")
    if [ -z "$v" ]; then
        echo "$venv is broken: its Python does not run (pyvenv.cfg says it was made by Python ${made:-unknown})." >&2
    elif too_old "$v"; then
        echo "$venv was made by Python $v; the course needs Python 3.11 or newer." >&2
    else
        exit 0
    fi
    echo "Fix: delete it, rm -rf $venv (or make clean, which deletes build/ too; my-work/ is kept), and run make again;" \
         "$(new_python)." >&2
    exit 1
fi

v=$(version "$python")
if [ -z "$v" ] || too_old "$v"; then
    echo "$venv does not exist yet, and $(new_python)." >&2
    exit 1
fi
