"""Abstract bases every domain app builds on, and the bookkeeping table of periodic jobs."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True, db_index=True)

    class Meta:
        abstract = True


class PeriodicRun(models.Model):
    """One row per periodic job per period; the unique pair is what makes a job run once per period,
    however many beats or redeliveries there are. See crm.periodic.run_once_per_period."""

    job = models.CharField(_("任务"), max_length=100)
    period = models.CharField(_("周期"), max_length=32)
    started_at = models.DateTimeField(_("开始时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    result = models.JSONField(_("结果"), default=dict, blank=True)

    class Meta:
        verbose_name = _("定时任务执行记录")
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["job", "period"], name="periodic_run_once_per_period")]

    def __str__(self):
        return f"{self.job} {self.period}"
