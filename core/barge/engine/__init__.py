"""The engine: jobs by name, and the plugin manager that dispatches hooks."""

from barge.engine.job import Engine, Job, JobStatus
from barge.hooks import hookimpl, hookspec

__all__ = ["Engine", "Job", "JobStatus", "hookimpl", "hookspec"]
