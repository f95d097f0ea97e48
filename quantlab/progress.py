"""Progress for work that takes more than a few seconds: a map that reports, and a one-line text bar."""

import time


def map_with_progress(work, items, progress=None):
    """[work(item) for item in items], calling progress(i, n, item) before each and (n, n, "done") at the end."""
    items = list(items)
    results = []
    for i, item in enumerate(items):
        if progress is not None:
            progress(i, len(items), item)
        results.append(work(item))
    if progress is not None:
        progress(len(items), len(items), "done")
    return results


class TextProgress:
    """progress(i, n, what) for lm.quality.measure_table & co.: one line, updated in place, e.g. '[#####.....] 5/10'."""

    def __init__(self, label="measuring", width=20):
        from IPython.display import Pretty, display

        self.label, self.width, self._pretty = label, width, Pretty
        self.start = time.perf_counter()
        self.handle = display(Pretty(f"{label}: starting"), display_id=True)

    def __call__(self, i, n, what):
        done = int(round(self.width * i / n)) if n else self.width
        text = (
            f"{self.label}: [{'#' * done}{'.' * (self.width - done)}] {i}/{n}  {what}  "
            f"({time.perf_counter() - self.start:.1f} s)"
        )
        if self.handle is not None:
            self.handle.update(self._pretty(text))
        else:  # outside IPython
            print(text)
