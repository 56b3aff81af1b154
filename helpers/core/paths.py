"""Where the course's data lives: data/corpus (the sentences) and data/reference (recorded figures)."""
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # the helpers/ folder
# A wheel ships data/ inside the package as helpers/data; a checkout (or editable install) has it beside helpers/.
DATA_DIR = _PACKAGE / "data" if (_PACKAGE / "data").is_dir() else _PACKAGE.parent / "data"
CORPUS_DIR = DATA_DIR / "corpus"        # train.txt and heldout.txt (notebooks 07, 09, 10, 13)
REFERENCE_DIR = DATA_DIR / "reference"  # recordings of `python -m helpers.record`
