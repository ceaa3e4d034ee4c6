"""Peak memory (RSS) of a batch job's own process.

``ru_maxrss`` of a waited-for child is no good here: Linux carries the high-water mark of the
address space a process replaces at ``exec`` into the new program's ``maxrss``, and the child's
address space before ``exec`` is the forked (or vforked) harness — so every job would report at
least the harness's own size. ``VmHWM`` in ``/proc/<pid>/status`` is the high-water mark of the
*current* address space: the job's program only. It is gone once the process has exited (a zombie
has no memory left to describe), so it is read

- by the job itself as it exits (``report_peak_at_exit``: the high-water mark is monotonic, its
  last value is the peak), written to the file named by ``$BENCH_PEAK_FILE``; and
- by the harness while the job runs (``run_measured`` polls it), which covers a job that dies
  without running its exit handlers (killed, ``os._exit``) up to its last poll.

The larger of the two is the job's peak."""

import atexit
import os
import subprocess
import tempfile
import time
from pathlib import Path

PEAK_FILE_ENV = "BENCH_PEAK_FILE"


def vm_hwm_kb(pid="self"):
    """The high-water mark of ``pid``'s resident set in kB, or None (no such process, exited)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None  # a zombie: its status has no Vm* lines any more


def _write_peak(path):
    peak = vm_hwm_kb()
    if peak is not None:
        Path(path).write_text(str(peak))


def report_peak_at_exit():
    """In a job process: write its own VmHWM to ``$BENCH_PEAK_FILE`` when it exits."""
    path = os.environ.get(PEAK_FILE_ENV)
    if path:
        atexit.register(_write_peak, path)


def run_measured(command, *, env=None, cwd=None, interval=0.02):
    """Run ``command`` to its end: {"seconds", "peak_rss_mb", "exit", "peak_source"}. The peak is
    the child's own (see the module docstring), not the harness's."""
    with tempfile.NamedTemporaryFile(prefix="bench-peak-", suffix=".txt", delete=False) as handle:
        peak_file = Path(handle.name)
    try:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=cwd, env={**(env or os.environ), PEAK_FILE_ENV: str(peak_file)})
        polled = 0
        while True:
            # Read before reaping: once waited for, the process (and its /proc entry) is gone.
            polled = max(polled, vm_hwm_kb(process.pid) or 0)
            pid, status, _usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(interval)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        text = peak_file.read_text().strip() if peak_file.exists() else ""
        reported = int(text) if text.isdigit() else 0
    finally:
        peak_file.unlink(missing_ok=True)
    return {
        "seconds": seconds,
        "peak_rss_mb": round(max(polled, reported) / 1024, 1),
        "exit": process.returncode,
        "peak_source": "exit" if reported >= polled else "polled",
    }
