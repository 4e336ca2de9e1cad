"""barge's pluggy markers, and driver contracts turned into hooks.

A driver kind is declared once, as an abstract base class (``GraphDriver``,
``ExecDriver``, ``NetworkDriver``) whose methods marked :func:`operation`
carry the signature and the docstring of the contract. From that class,

* :func:`hookspecs_for` builds the pluggy hook specifications (one
  ``firstresult`` hook ``<prefix><method>`` per operation), which the plugin
  manager adds (:mod:`barge.engine.hookspecs`);
* :func:`adapter_for` fills in the plugin class a driver package registers:
  one ``hookimpl`` per operation that calls the driver instance.

So adding an operation means writing one method on the base class; core
keeps calling ``pm.hook.<prefix><method>(...)``, and extension plugins may
still wrap driver hooks (audit, metrics).

This module sits below both the engine and the driver contracts: it imports
nothing of barge.
"""

from __future__ import annotations

import inspect
import keyword
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, TypeVar

import pluggy

PROJECT = "barge"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

_MARK = "__barge_operation__"

F = TypeVar("F", bound=Callable[..., Any])
P = TypeVar("P", bound=type)


def operation(method: F) -> F:
    """Mark a method of a driver base class as an operation of the contract.

    Stack it under ``@property`` for an operation that reads data of the
    driver (``capabilities``), and with ``@abstractmethod`` for one every
    driver must implement.
    """
    setattr(method, _MARK, True)
    return method


@dataclass(frozen=True)
class Operation:
    """One operation of a contract, as read from its base class."""

    name: str
    params: tuple[str, ...]
    doc: str
    annotations: dict[str, Any]
    #: read as an attribute of the driver (a property on the base class), not called
    is_attribute: bool
    #: declared ``-> None``: the hook answers True, so ``firstresult`` sees an answer
    returns_nothing: bool


def operations(base: type) -> list[Operation]:
    """The operations ``base`` declares (or inherits), in declaration order.

    Raises ``TypeError`` for a declaration pluggy could not dispatch faithfully:
    an operation without a docstring, or with ``*args``, keyword-only
    parameters or defaults (pluggy passes only the names the hook spec lists,
    so a default would silently never be overridden).
    """
    found: dict[str, Operation] = {}
    for klass in reversed(base.__mro__):
        for name, value in vars(klass).items():
            is_attribute = isinstance(value, property)
            function = value.fget if is_attribute else value
            if not getattr(function, _MARK, False):
                continue
            found[name] = _read(base, name, function, is_attribute)
    return list(found.values())


def _read(base: type, name: str, function: Any, is_attribute: bool) -> Operation:
    where = f"{base.__name__}.{name}"
    doc = inspect.getdoc(function)
    if not doc:
        raise TypeError(f"{where}: an operation needs a docstring: it documents the hook")
    signature = inspect.signature(function)
    params = list(signature.parameters.values())
    if not params or params[0].name != "self":
        raise TypeError(f"{where}: an operation is a method whose first parameter is self")
    for p in params[1:]:
        if p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD or p.default is not inspect.Parameter.empty:
            raise TypeError(f"{where}: parameter {p.name!r} must be a plain named parameter without default")
    if is_attribute and len(params) > 1:
        raise TypeError(f"{where}: a property operation takes no parameters")
    returns = signature.return_annotation
    return Operation(
        name=name,
        params=tuple(p.name for p in params[1:]),
        doc=doc,
        annotations=dict(getattr(function, "__annotations__", {})),
        is_attribute=is_attribute,
        returns_nothing=returns is None or returns == "None",
    )


def _function(name: str, params: tuple[str, ...], body: str, *, qualname: str, module: str,
              doc: str, annotations: dict[str, Any]) -> Callable[..., Any]:
    """A real function ``def name(self, *params): body``.

    Built from source, as :mod:`dataclasses` builds ``__init__``: pluggy reads
    a hook's argument names from the function's code object (``__signature__``
    is ignored), and calls implementations with positional arguments in that
    order, so the generated function must really have those parameters.
    """
    for word in (name, *params):
        if not word.isidentifier() or keyword.iskeyword(word) or word == "self":
            raise TypeError(f"{qualname}: {word!r} cannot name a hook or a parameter")
    source = f"def {name}({', '.join(('self', *params))}):\n    {body}\n"
    namespace: dict[str, Any] = {}
    exec(source, {}, namespace)  # the source is built from the identifiers checked above
    function = namespace[name]
    function.__qualname__ = qualname
    function.__module__ = module
    function.__doc__ = doc
    function.__annotations__ = annotations
    return function


def hookspecs_for(base: type, prefix: str) -> type:
    """A class of hook specifications, one ``firstresult`` hook per operation of ``base``.

    Give it to ``PluginManager.add_hookspecs``. Every driver hook is
    ``firstresult``: one driver of a kind is registered and its answer is
    the answer.
    """
    class_name = f"{base.__name__}Hooks"
    namespace: dict[str, Any] = {
        "__doc__": f"The ``{prefix}*`` hooks, generated from :class:`{base.__module__}.{base.__qualname__}`.",
        "__module__": base.__module__,
        "contract": base,
    }
    for op in operations(base):
        hook = prefix + op.name
        spec = _function(hook, op.params, "pass", qualname=f"{class_name}.{hook}", module=base.__module__,
                         doc=op.doc, annotations=op.annotations)
        namespace[hook] = hookspec(firstresult=True)(spec)
    return type(class_name, (), namespace)


def adapter_for(base: type, prefix: str) -> Callable[[P], P]:
    """Class decorator: give a :class:`DriverPlugin` subclass one ``hookimpl`` per operation of ``base``.

    Each implementation calls the operation on ``self.driver`` with the
    hook's arguments (or reads it, for a property), and answers ``True``
    for an operation that returns nothing.
    """

    def decorate(cls: P) -> P:
        for op in operations(base):
            hook = prefix + op.name
            if hook in vars(cls):
                raise TypeError(f"{cls.__name__}.{hook}: the adapter generates this hook; declare operations "
                                f"on {base.__name__} only")
            args = ", ".join(op.params)
            if op.is_attribute:
                body = f"return self.driver.{op.name}"
            elif op.returns_nothing:
                body = f"self.driver.{op.name}({args}); return True"
            else:
                body = f"return self.driver.{op.name}({args})"
            impl = _function(hook, op.params, body, qualname=f"{cls.__qualname__}.{hook}", module=cls.__module__,
                             doc=f"Calls :meth:`{base.__name__}.{op.name}` of the registered driver.",
                             annotations={**op.annotations, "return": "bool"} if op.returns_nothing
                             else op.annotations)
            setattr(cls, hook, hookimpl(impl))
        return cls

    return decorate


class DriverPlugin:
    """What a driver package's entry point names: constructs and registers one driver.

    Subclasses set ``driver_class``; loading the entry point constructs the
    driver with its home directory and option table, which may raise
    ``DriverNotSupported``. The hook implementations come from
    :func:`adapter_for` on the kind's plugin class (``GraphDriverPlugin``...).
    """

    driver_class: ClassVar[type[Any]]

    def __init__(self, home: Path, options: Mapping[str, Any] | None = None):
        self.driver = self.driver_class(Path(home), options or {})
