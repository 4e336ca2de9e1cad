"""The engine: jobs by name, and the plugin manager that dispatches hooks."""

from barge.engine.hookspecs import hookimpl, hookspec
from barge.engine.job import Engine, Job, JobStatus

__all__ = ["Engine", "Job", "JobStatus", "hookimpl", "hookspec"]
