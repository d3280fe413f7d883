"""The package's import graph: no cycles between modules, and each layer imports only the ones below.

Layers, top to bottom: ``newswire.pipelines.cli``; ``newswire.bench``; the rest of
``newswire.pipelines``; ``newswire.connectors``; ``newswire.schemas``. Connectors share only
``newswire.schemas`` with the stages, so a connector never imports ``newswire.pipelines``.
Every import counts, including ones inside functions.
"""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

FOLDERS = {"pipelines": "newswire.pipelines", "connectors": "newswire.connectors",
           "schemas": "newswire.schemas", "bench": "newswire.bench"}


def module_imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            imported = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("newswire"):
                    imported |= {f"{node.module}.{alias.name}" for alias in node.names}
                elif isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names if alias.name.startswith("newswire")}
            graph[name] = imported
    known = set(graph)
    # "from newswire.pipelines import launch" names a module; "from x.y import Name" names x.y.
    return {name: {i if i in known else i.rsplit(".", 1)[0] for i in imports} & known - {name}
            for name, imports in graph.items()}


def test_no_module_imports_itself_through_others():
    graph = module_imports()
    assert len(graph) > 30
    for start in graph:
        stack, seen = list(graph[start]), set()
        while stack:
            module = stack.pop()
            assert module != start, f"import cycle through {start}"
            if module not in seen:
                seen.add(module)
                stack.extend(graph[module])


def layer(module: str) -> int:
    if module == "newswire.pipelines.cli":
        return 4
    for rank, package in enumerate(("newswire.schemas", "newswire.connectors", "newswire.pipelines",
                                    "newswire.bench")):
        if module.startswith(package):
            return rank
    raise AssertionError(module)


@pytest.mark.parametrize("module", sorted(module_imports()))
def test_each_module_imports_only_its_layer_and_those_below(module):
    imports = module_imports()[module]
    assert not {i for i in imports if layer(i) > layer(module)}
