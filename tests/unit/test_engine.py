"""The engine runs typed jobs by name and tells extension plugins about them."""

from dataclasses import dataclass

import pytest

from barge.engine import Engine, JobStatus, hookimpl
from barge.engine.plugins import make_plugin_manager
from barge.errors import NotFound


@dataclass
class EchoArgs:
    text: str = ""


def test_job_runs_handler_with_typed_args_and_streams():
    engine = Engine()
    out = []

    class Out:
        def write(self, data):
            out.append(data)

    @engine.handler("echo", EchoArgs)
    def echo(job):
        job.stdout.write(job.args.text.encode())
        return len(job.args.text)

    job = engine.job("echo", EchoArgs("hi"), stdout=Out())
    assert engine.run(job) == 2
    assert job.status is JobStatus.OK and job.result == 2
    assert out == [b"hi"]


def test_wrong_args_type_and_unknown_job_are_refused():
    engine = Engine()
    engine.register("echo", EchoArgs, lambda job: None)
    with pytest.raises(TypeError):
        engine.job("echo", {"text": "x"})
    with pytest.raises(NotFound):
        engine.job("nope")
    with pytest.raises(ValueError):
        engine.register("echo", EchoArgs, lambda job: None)
    with pytest.raises(TypeError):
        engine.register("untyped", dict, lambda job: None)


def test_failed_job_records_error_and_status():
    engine = Engine()
    engine.register("boom", EchoArgs, lambda job: 1 / 0)
    job = engine.job("boom")
    with pytest.raises(ZeroDivisionError):
        engine.run(job)
    assert job.status is JobStatus.FAILED
    assert isinstance(job.error, ZeroDivisionError)


def test_extension_plugins_see_job_lifecycle():
    pm = make_plugin_manager(load_extensions=False)
    seen = []

    class Audit:
        @hookimpl
        def barge_job_started(self, job):
            seen.append(("start", job.name, job.status))

        @hookimpl
        def barge_job_finished(self, job):
            seen.append(("end", job.name, job.status))

    pm.register(Audit())
    pm.check_pending()
    engine = Engine(pm)
    engine.register("echo", EchoArgs, lambda job: None)
    engine.call("echo", EchoArgs("x"))
    assert seen == [("start", "echo", JobStatus.RUNNING), ("end", "echo", JobStatus.OK)]


def test_misspelled_hook_fails_loudly():
    from pluggy import PluginValidationError

    pm = make_plugin_manager(load_extensions=False)

    class Typo:
        @hookimpl
        def barge_graph_creat(self, layer_id, parent):
            return True

    pm.register(Typo())
    with pytest.raises(PluginValidationError):
        pm.check_pending()
