"""A batch job's peak RSS is its own, not the harness's (bench.memory)."""

import os
import resource
import subprocess
import sys
from pathlib import Path

from bench.memory import run_measured, vm_hwm_kb

ROOT = Path(__file__).resolve().parents[2]
MB = 1 << 20
CHILD_MB = 150
PARENT_MB = 400
# The child allocates CHILD_MB (bytes filled with 1s: every page touched) on top of an interpreter.
ALLOCATE = f"data = b'\\x01' * ({CHILD_MB} * {MB})"


def _python(code):
    return [sys.executable, "-c", code]


def test_peak_is_the_childs_own_while_the_parent_is_larger():
    ballast = b"\x01" * (PARENT_MB * MB)  # the harness, much larger than the job
    assert vm_hwm_kb() / 1024 >= PARENT_MB
    code = f"from bench.memory import report_peak_at_exit; report_peak_at_exit(); {ALLOCATE}"
    result = run_measured(_python(code), cwd=ROOT)
    assert result["exit"] == 0
    assert result["peak_source"] == "exit"
    # Its allocation plus an interpreter (~10–30 MB), nowhere near the parent's size.
    assert CHILD_MB <= result["peak_rss_mb"] < CHILD_MB + 60, result
    del ballast


def test_ru_maxrss_would_have_reported_the_parent():
    """Why VmHWM: the rusage of a child that allocates almost nothing still carries the forking
    process's high-water mark across exec (what the harness reported before)."""
    ballast = b"\x01" * (PARENT_MB * MB)
    process = subprocess.Popen(_python("pass"))
    _pid, _status, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    assert usage.ru_maxrss / 1024 >= PARENT_MB * 0.9
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 >= PARENT_MB
    del ballast


def test_a_child_that_skips_its_exit_handlers_is_measured_by_polling():
    code = (
        f"import os, time; from bench.memory import report_peak_at_exit; report_peak_at_exit(); {ALLOCATE}; "
        "time.sleep(0.5); os._exit(3)"
    )
    result = run_measured(_python(code), cwd=ROOT)
    assert result["exit"] == 3
    assert result["peak_source"] == "polled"
    assert CHILD_MB <= result["peak_rss_mb"] < CHILD_MB + 60, result


def test_no_process_no_reading():
    assert vm_hwm_kb(2**22 + 12345) is None
