"""Input checks: a bad argument raises a ValueError that names it and its allowed range."""


def check_int(name, value, low, high):
    """Raise ValueError unless `value` is an int in [low, high]; return it (notebook 01)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def check_choice(name, value, choices):
    """Raise ValueError unless `value` is one of `choices`; return it (notebook 02)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value
