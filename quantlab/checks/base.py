"""The self-checks' shared base: a verdict that names the mistake, the unanswered reminder, number helpers.

Each check prints a verdict (so it reads well in a notebook) and returns True or False (so it can be
tested). An unanswered exercise (None or Ellipsis) is not an error: it gets a reminder.
"""


class Verdict:
    """The outcome of a check: truthy when right. Displays nothing itself (the check already printed)."""

    def __init__(self, ok, message):
        self.ok, self.message = bool(ok), message

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return f"Verdict(ok={self.ok}, message={self.message!r})"

    def _ipython_display_(self):
        pass


def verdict(ok, message):
    """Print the verdict (a tick or a cross, then the message) and return it as a Verdict."""
    print(("\u2705 " if ok else "\u274c ") + message)
    return Verdict(ok, message)


def unanswered(answer):
    """True (after printing a reminder) when the exercise still holds its placeholder None or ...."""
    if answer is None or answer is Ellipsis:
        print("\u270f\ufe0f  Not answered yet: replace the None above with your answer and run the cell again.")
        return True
    return False


NOT_ANSWERED = Verdict(False, "not answered yet")


def as_number(answer, what):
    """The answer as a float, or a TypeError naming what was expected."""
    try:
        return float(answer)
    except (TypeError, ValueError):
        raise TypeError(f"{what} should be a number, got {answer!r}") from None


def is_close(value, target, rel=0.01):
    """True if value is within a relative `rel` of target."""
    return abs(value - target) <= rel * abs(target)
