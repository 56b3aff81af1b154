"""nbval over the notebooks compares their outputs only on a machine that reproduces them (helpers.as_stored: the
CPU maker, torch release and CPU kernels they were stored with); elsewhere it runs every cell and every assert, and
the header says why the outputs are not compared."""


def stored_outputs_reproduced():
    """helpers.as_stored() for this machine, and its reason in words when not."""
    import torch

    from helpers.core.checks import STORED_WITH, as_stored, cpu_maker
    if as_stored():
        return True, ""
    here = (f"{cpu_maker()} CPU, torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()} kernels"
            f"{', a CUDA device' if torch.cuda.is_available() else ''}")
    made = f"{STORED_WITH['cpu_maker']} CPU, torch {STORED_WITH['torch']}, {STORED_WITH['cpu_capability']} kernels"
    return False, f"stored on: {made}; here: {here}"


def pytest_configure(config):
    """Where the stored outputs cannot be reproduced, nbval runs as --nbval-lax: every cell and its asserts, no
    comparison of printed numbers that another machine's float sums change."""
    if getattr(config.option, "nbval", False):
        reproduced, why = stored_outputs_reproduced()
        config._course_outputs_note = None if reproduced else why
        if not reproduced:
            config.option.nbval_lax = True


def pytest_report_header(config):
    note = getattr(config, "_course_outputs_note", None)
    if note:
        return [f"nbval: the notebooks' stored outputs are not compared on this machine ({note}); every cell and "
                "every assert still runs"]
