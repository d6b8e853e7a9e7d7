#!/usr/bin/env python3
"""Fail when two app modules import each other, directly or through others.

import-linter's ``acyclic_siblings`` contract sees cycles between sibling packages;
this sees them between modules, including a package's ``__init__`` and imports made
inside functions (a lazy import is still a dependency). Run by ``make lint``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

APPS = ("clusters", "deployments", "console")


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; returns the components with more than one module."""
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
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    imports = grimp.build_graph(*APPS)
    graph = {
        module: {
            m for m in imports.find_modules_directly_imported_by(module) if m in imports.modules
        }
        for module in imports.modules
    }
    cycles = strongly_connected(graph)
    for cycle in cycles:
        print("import cycle:", " <-> ".join(cycle))
    print(f"{len(cycles)} import cycles between app modules")
    return 1 if cycles else 0


if __name__ == "__main__":
    raise SystemExit(main())
