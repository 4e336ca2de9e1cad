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


# -- driver contracts: one declaration, generated hook specs and adapters ----------------


def _toy_contract():
    """A small driver kind, declared the way GraphDriver, ExecDriver and NetworkDriver are."""
    from abc import ABC, abstractmethod

    from barge.hooks import DriverPlugin, adapter_for, hookspecs_for, operation

    class ToyDriver(ABC):
        def __init__(self, home, options):
            self.calls = []

        @property
        @operation
        def flavours(self) -> frozenset[str]:
            """The driver's flavours (data)."""
            return frozenset()

        @operation
        @abstractmethod
        def make(self, thing_id: str, size: int) -> int:
            """Make a thing; returns its size."""

        @operation
        def drop(self, thing_id: str) -> None:
            """Drop a thing (answers nothing)."""
            self.calls.append(("drop", thing_id))

        def helper(self) -> str:  # not an operation: no hook
            return "helper"

    class Toy(ToyDriver):
        flavours = frozenset({"plain"})

        def make(self, thing, size):  # a driver may name its parameters as it likes
            self.calls.append(("make", thing, size))
            return size

    @adapter_for(ToyDriver, prefix="barge_toy_")
    class ToyPlugin(DriverPlugin):
        driver_class = Toy

    return ToyDriver, ToyPlugin, hookspecs_for(ToyDriver, prefix="barge_toy_")


def test_hook_specs_are_generated_from_the_base_class_with_its_argument_names():
    _, _, specs = _toy_contract()
    pm = make_plugin_manager(load_extensions=False)
    pm.add_hookspecs(specs)
    assert pm.hook.barge_toy_make.spec.argnames == ("thing_id", "size")
    assert pm.hook.barge_toy_drop.spec.argnames == ("thing_id",)
    assert pm.hook.barge_toy_flavours.spec.argnames == ()
    assert pm.hook.barge_toy_make.spec.opts["firstresult"] is True
    assert pm.hook.barge_toy_make.spec.function.__doc__ == "Make a thing; returns its size."
    assert not hasattr(pm.hook, "barge_toy_helper")


def test_generated_adapter_dispatches_to_the_driver(tmp_path):
    _, plugin_class, specs = _toy_contract()
    pm = make_plugin_manager(load_extensions=False)
    pm.add_hookspecs(specs)
    plugin = plugin_class(tmp_path, {})
    pm.register(plugin, name="toy")
    pm.check_pending()
    assert pm.hook.barge_toy_make.get_hookimpls()[0].argnames == ("thing_id", "size")
    assert pm.hook.barge_toy_make(thing_id="t1", size=3) == 3
    assert pm.hook.barge_toy_drop(thing_id="t1") is True  # an answer, so firstresult stops there
    assert pm.hook.barge_toy_flavours() == frozenset({"plain"})
    assert plugin.driver.calls == [("make", "t1", 3), ("drop", "t1")]


def test_extension_plugins_wrap_generated_driver_hooks(tmp_path):
    _, plugin_class, specs = _toy_contract()
    pm = make_plugin_manager(load_extensions=False)
    pm.add_hookspecs(specs)
    seen = []

    class Metrics:
        @hookimpl(wrapper=True)
        def barge_toy_make(self, thing_id, size):
            result = yield
            seen.append((thing_id, result))
            return result

    pm.register(Metrics())
    pm.register(plugin_class(tmp_path, {}))
    pm.check_pending()
    assert pm.hook.barge_toy_make(thing_id="t2", size=5) == 5
    assert seen == [("t2", 5)]


def test_an_implementation_with_an_argument_the_spec_lacks_is_refused():
    from pluggy import PluginValidationError

    pm = make_plugin_manager(load_extensions=False)

    class Wrong:
        @hookimpl
        def barge_graph_create(self, layer_id, parent, mode):
            return True

    with pytest.raises(PluginValidationError):
        pm.register(Wrong())


def test_declarations_pluggy_could_not_dispatch_are_refused():
    from barge.hooks import hookspecs_for, operation

    class Defaulted:
        @operation
        def op(self, a: int = 1) -> None:
            """Documented."""

    class Undocumented:
        @operation
        def op(self, a: int) -> None:
            pass

    class KeywordOnly:
        @operation
        def op(self, *, a: int) -> None:
            """Documented."""

    for base in (Defaulted, Undocumented, KeywordOnly):
        with pytest.raises(TypeError):
            hookspecs_for(base, prefix="barge_bad_")


def test_an_adapter_does_not_take_hand_written_hooks():
    from barge.hooks import DriverPlugin, adapter_for, operation

    class Base:
        @operation
        def op(self, a: int) -> int:
            """Documented."""

    with pytest.raises(TypeError):
        @adapter_for(Base, prefix="barge_dup_")
        class Twice(DriverPlugin):
            @hookimpl
            def barge_dup_op(self, a):
                return a


def test_driver_hooks_are_the_operations_of_the_driver_base_classes():
    from barge.engine import hookspecs
    from barge.execdriver.base import ExecDriver
    from barge.graphdriver.base import GraphDriver
    from barge.hooks import operations
    from barge.netdriver.base import NetworkDriver

    names = set(hookspecs.specs())
    for base, prefix in ((GraphDriver, "barge_graph_"), (ExecDriver, "barge_exec_"),
                         (NetworkDriver, "barge_network_")):
        ops = {prefix + op.name for op in operations(base)}
        assert ops == {n for n in names if n.startswith(prefix)}
    # hooks core never dispatched are gone; the base class keeps what drivers and tests use
    assert not names & {"barge_graph_name", "barge_graph_exists", "barge_exec_name", "barge_exec_status",
                        "barge_network_name"}
    assert "exists" in vars(GraphDriver)
