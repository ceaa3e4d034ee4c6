"""Runs one registered batch job in this process (the harness measures it from outside)."""

import sys

import django


def main(name):
    from bench.memory import report_peak_at_exit

    report_peak_at_exit()  # this process's own peak, for the harness (see bench.memory)
    django.setup()
    from django.db import transaction

    from bench import registry

    registry.discover()
    job = registry.BATCH_JOBS[name]
    if job.rollback:
        with transaction.atomic():
            job.func()
            transaction.set_rollback(True)
    else:
        job.func()


if __name__ == "__main__":
    main(sys.argv[1])
