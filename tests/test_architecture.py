"""Architecture rules, checked on the source of src/babelgate with `ast` (nothing is imported):
no import cycles between babelgate modules (imports inside functions count, those under
`if TYPE_CHECKING:` do not) nor between its subpackages, routing free of aiohttp and the
server, and no module longer than MAX_LINES."""

from __future__ import annotations

import ast
import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 320


@dataclass(frozen=True)
class Import:
    """One imported module: who imports it, its absolute name, and the statement that imports it."""

    module: str
    target: str
    line: int
    statement: str
    in_function: bool = False
    type_only: bool = False  # under `if TYPE_CHECKING:`


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted((SRC / "babelgate").rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Scanner(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: Iterable[str]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.known = set(known)
        self.imports: list[Import] = []
        self._functions = 0
        self._type_only = 0

    def _add(self, target: str, node: ast.stmt) -> None:
        self.imports.append(Import(self.module, target, node.lineno, ast.unparse(node), self._functions > 0, self._type_only > 0))

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.visit(node.test)
        self._type_only += 1
        for child in node.body:
            self.visit(child)
        self._type_only -= 1
        for child in node.orelse:
            self.visit(child)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.package.split(".")
            anchor = ".".join(package[: len(package) - node.level + 1])
            base = f"{anchor}.{base}" if base else anchor
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            self._add(submodule if submodule in self.known else base, node)


def imports_of(module: str, source: str, known: Iterable[str] = MODULES, is_package: bool = False) -> list[Import]:
    scanner = _Scanner(module, is_package, known)
    scanner.visit(ast.parse(source))
    return scanner.imports


IMPORTS: dict[str, list[Import]] = {
    name: imports_of(name, path.read_text(), is_package=path.name == "__init__.py") for name, path in MODULES.items()
}


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def import_graph(imports: Mapping[str, list[Import]], known: Iterable[str] = MODULES) -> dict[str, dict[str, Import]]:
    """module -> {module it makes Python run: the import that does it}. An import runs its target
    and the target's packages, except those the importer sits in (they run before it)."""
    known = set(known)
    graph: dict[str, dict[str, Import]] = {name: {} for name in imports}
    for importer, found in imports.items():
        own = {*_ancestors(importer), importer}
        for imp in found:
            if imp.type_only:
                continue
            runs = [a for a in _ancestors(imp.target) if a not in own] + [imp.target]
            for target in runs:
                if target in known and target != importer:
                    graph[importer].setdefault(target, imp)
    return graph


def package_graph(graph: Mapping[str, Mapping[str, Import]]) -> dict[str, dict[str, Import]]:
    """The module graph seen from above: babelgate.x.y counts as babelgate.x (and babelgate.ir as itself)."""

    def unit(name: str) -> str:
        return ".".join(name.split(".")[:2])

    packages: dict[str, dict[str, Import]] = {unit(name): {} for name in graph}
    for importer, targets in graph.items():
        for target, imp in targets.items():
            if unit(target) != unit(importer):
                packages[unit(importer)].setdefault(unit(target), imp)
    return packages


def _components(graph: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), without recursion."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, {})))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def cycles(graph: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """The shortest cycle through each module that is on one, each cycle once, as [a, b, ..., a]."""
    out: set[tuple[str, ...]] = set()
    for component in _components(graph):
        members = set(component)
        for start in component:
            came_from: dict[str, str] = {}
            queue = deque([start])
            while queue:
                node = queue.popleft()
                if start in graph.get(node, {}):
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(came_from[chain[-1]])
                    chain.reverse()
                    turn = chain.index(min(chain))
                    out.add(tuple(chain[turn:] + chain[:turn]))
                    break
                for child in sorted(graph.get(node, {})):
                    if child in members and child not in came_from and child != start:
                        came_from[child] = node
                        queue.append(child)
    return [[*c, c[0]] for c in sorted(out)]


def describe(cycle: list[str], graph: Mapping[str, Mapping[str, Import]]) -> str:
    lines = [" -> ".join(cycle)]
    for a, b in itertools.pairwise(cycle):
        imp = graph[a][b]
        where = " (in a function)" if imp.in_function else ""
        lines.append(
            f"    {MODULES[imp.module].relative_to(SRC) if imp.module in MODULES else imp.module}:{imp.line}{where}: {imp.statement}"
        )
    return "\n".join(lines)


# ---- the rules --------------------------------------------------------------------------------


def test_no_import_cycles() -> None:
    graph = import_graph(IMPORTS)
    found = [describe(c, graph) for c in cycles(graph)]
    assert not found, "import cycles between babelgate modules:\n" + "\n".join(found)


def test_no_import_cycles_between_subpackages() -> None:
    graph = package_graph(import_graph(IMPORTS))
    found = [describe(c, graph) for c in cycles(graph)]
    assert not found, "import cycles between babelgate's subpackages:\n" + "\n".join(found)


def test_routing_imports_neither_aiohttp_nor_the_server() -> None:
    """Counting every import, also those only for type checking."""
    bad = [
        f"{MODULES[name].relative_to(SRC)}:{imp.line}: {imp.statement}"
        for name, found in IMPORTS.items()
        if name == "babelgate.routing" or name.startswith("babelgate.routing.")
        for imp in found
        if imp.target.split(".")[0] == "aiohttp" or imp.target == "babelgate.server" or imp.target.startswith("babelgate.server.")
    ]
    assert not bad, "babelgate.routing imports aiohttp or babelgate.server:\n" + "\n".join(bad)


def test_modules_are_short() -> None:
    long = {str(path.relative_to(SRC)): n for path in MODULES.values() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines:\n" + "\n".join(f"{p}: {n}" for p, n in sorted(long.items()))


# ---- the checker itself -----------------------------------------------------------------------

_KNOWN = ["p", "p.a", "p.b", "p.sub", "p.sub.c", "p.sub.d"]


def test_imports_are_found_wherever_they_are() -> None:
    source = """
from typing import TYPE_CHECKING
import p.b
from p import b, CONSTANT
from . import sub as alias, NAME
from .sub import c
from .sub.d import thing
if TYPE_CHECKING:
    from p.sub import d
else:
    import json
async def f():
    from .sub import d
class K:
    import os
"""
    found = imports_of("p.a", source, _KNOWN)
    assert [(i.target, i.in_function, i.type_only) for i in found] == [
        ("typing", False, False),
        ("p.b", False, False),
        ("p.b", False, False),
        ("p", False, False),  # CONSTANT is no module: the package's own code
        ("p.sub", False, False),
        ("p", False, False),
        ("p.sub.c", False, False),
        ("p.sub.d", False, False),
        ("p.sub.d", False, True),
        ("json", False, False),
        ("p.sub.d", True, False),
        ("os", False, False),
    ]
    assert [i.target for i in imports_of("p.sub", "from . import c\nfrom .. import a", _KNOWN, is_package=True)] == ["p.sub.c", "p.a"]


def test_cycles_are_found_and_reported_once() -> None:
    imports = {
        "p": [],
        "p.a": [Import("p.a", "p.b", 1, "import p.b")],
        "p.b": [Import("p.b", "p.a", 2, "import p.a", in_function=True), Import("p.b", "p.sub.c", 3, "import p.sub.c")],
        "p.sub": [Import("p.sub", "p.a", 4, "import p.a")],
        "p.sub.c": [Import("p.sub.c", "p.sub.d", 5, "import p.sub.d", type_only=True)],
        "p.sub.d": [Import("p.sub.d", "p.sub.c", 6, "import p.sub.c"), Import("p.sub.d", "p", 7, "from p import X")],
    }
    graph = import_graph(imports, _KNOWN)
    # p.b importing p.sub.c runs p.sub first, which imports p.a; p.sub.c -> p.sub.d is for type checking only.
    assert graph["p.b"].keys() == {"p.a", "p.sub", "p.sub.c"} and graph["p.sub.c"] == {}
    assert cycles(graph) == [["p.a", "p.b", "p.a"], ["p.a", "p.b", "p.sub", "p.a"]]
    assert describe(["p.a", "p.b", "p.a"], graph).splitlines()[1:] == ["    p.a:1: import p.b", "    p.b:2 (in a function): import p.a"]
    packages = package_graph(graph)
    assert {unit: set(targets) for unit, targets in packages.items()} == {
        "p": set(),
        "p.a": {"p.b"},
        "p.b": {"p.a", "p.sub"},
        "p.sub": {"p.a", "p"},  # p.sub.d counts as p.sub
    }
    assert packages["p.sub"]["p"] == graph["p.sub.d"]["p"]
    assert cycles(packages) == [["p.a", "p.b", "p.a"], ["p.a", "p.b", "p.sub", "p.a"]]
