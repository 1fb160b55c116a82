"""Which variables a template reads, as attribute paths with their template line. Pure.

`{{ data.endpoint.url | upper }}` reads ("data", "endpoint", "url") on line 1. A path stops
where it can no longer be known statically: at a subscript by a variable, and before a
method call (`data.tags.items()` reads ("data", "tags")). Names the template binds itself
(`{% set %}`, loop variables) and Jinja's globals are not the event's, and are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import nodes

from stream_notifier.render.templates import ENVIRONMENT, CompiledField

Step = str | int


@dataclass(frozen=True, slots=True)
class VariableUse:
    path: tuple[Step, ...]
    line: int

    def dotted(self) -> str:
        text = str(self.path[0])
        for step in self.path[1:]:
            text += f"[{step}]" if isinstance(step, int) else f".{step}"
        return text


def variable_uses(field: CompiledField) -> list[VariableUse]:
    tree = field.variables()
    bound = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    ignored = bound | set(ENVIRONMENT.globals) | {"loop"}
    return [use for use in _uses(tree) if use.path[0] not in ignored]


def _uses(node: nodes.Node) -> Iterator[VariableUse]:
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        # A method call: the object is read, the method name is not a field.
        yield from _chain_or_children(node.node.node)
        arguments: list[nodes.Node | None] = [*node.args, *node.kwargs]
        for argument in (*arguments, node.dyn_args, node.dyn_kwargs):
            if argument is not None:
                yield from _uses(argument)
        return
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
        yield from _chain_or_children(node)
        return
    for child in node.iter_child_nodes():
        yield from _uses(child)


def _chain_or_children(node: nodes.Node) -> Iterator[VariableUse]:
    steps: list[Step] = []
    current = node
    while True:
        if isinstance(current, nodes.Getattr):
            steps.append(current.attr)
            current = current.node
        elif isinstance(current, nodes.Getitem) and _constant_key(current.arg) is not None:
            key = _constant_key(current.arg)
            assert key is not None
            steps.append(key)
            current = current.node
        elif isinstance(current, nodes.Getitem):
            # data[some.expression]: the key expression is read; the chain stops before it.
            yield from _uses(current.arg)
            steps.clear()
            current = current.node
        else:
            break
    if isinstance(current, nodes.Name) and current.ctx == "load":
        yield VariableUse((current.name, *reversed(steps)), current.lineno)
    elif not isinstance(current, nodes.Name):
        yield from _uses(current)


def _constant_key(node: nodes.Node) -> Step | None:
    if isinstance(node, nodes.Const) and isinstance(node.value, str | int):
        if isinstance(node.value, bool):
            return None
        return node.value
    return None
