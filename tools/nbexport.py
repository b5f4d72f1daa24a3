"""Export the `#| export` cells of the book's notebooks into the `nnscratch` package.

A small, standard-library exporter in the style of nbdev.

Directives are read only from a code cell's leading lines: the lines before its first
line of code (blank lines and ordinary `#` comments may sit among them). A directive
line is `#|`, optional whitespace, a name and an optional argument: `#| export`,
`#|export`, `#| export  data` all work. Directive lines are dropped from the exported
code; the other leading comments are kept. A `#|` line after the first line of code is
an ordinary comment and stays in the code.

* `#| default_exp NAME` names the module the notebook's export cells go to;
* `#| export` sends a code cell to that module, `#| export OTHER` to
  `nnscratch/OTHER.py`;
* `#| hide` is for the website (tools/hide_directives.py): the exporter just drops the
  line;
* each module's imports are written once, at its top: a cell's top-level `import` and
  `from ... import` statements move to the module's head, in first-seen order, repeats
  dropped, `from M import a` and `from M import b` merged (an import inside a function,
  `if` or `try` stays where it is); a name imported from two different places is an
  error;
* every public top-level `def`/`class` of a module is listed in its `__all__` (except
  names starting with `_` and functions decorated with `@patch(Class)`, which become
  methods: the module `del`s their names after the cell, so no stray module-level name
  is left); two modules exporting the same public name is an error;
* each exported cell starts with a marker line `# %% book/NOTEBOOK.ipynb N`, where N is
  the cell's 0-based index in the notebook's whole `cells` list (markdown cells
  included), as nbformat counts;
* `nnscratch/__init__.py` re-exports every module's `__all__`, in notebook order, except
  the modules in NOT_REEXPORTED; `nnscratch.__version__` comes from the installed
  package's metadata, so pyproject.toml is the one place the version number is written.

Files are read and written as UTF-8 whatever the locale.

Usage:
    python tools/nbexport.py                # write nnscratch/
    python tools/nbexport.py --check        # exit 1, naming the stale files, if any
    python tools/nbexport.py --root DIR     # work on DIR/book and DIR/nnscratch instead
"""

import argparse
import ast
import json
import re
import sys
import textwrap
from collections import namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK, PACKAGE = ROOT / "book", ROOT / "nnscratch"

# Modules left out of `from nnscratch import *`: the helpers for writing the library
# (`extras`, `patch`), the deliberately slow reference code, and the parts that need an
# extra (scikit-learn for `sklearn`, ipywidgets for `widgets`). Import them by name:
# `from nnscratch import widgets`.
NOT_REEXPORTED = ("extras", "patch", "reference", "sklearn", "widgets")

LINE = 88  # the longest line the exporter writes itself (ruff's line-length)

# matched against a stripped line: `#| name argument`
DIRECTIVE = re.compile(r"#\|\s*(\S*)\s*(.*)")

# One exported cell: its notebook's file name, its index in the notebook's `cells`, its
# code.
Cell = namedtuple("Cell", "notebook index code")


def split_directives(source):
    """Split a cell's source into ({directive: argument}, code without the directive
    lines).

    Only the leading lines count: the first line that is neither blank nor a comment
    ends them.
    """
    lines = source.splitlines()
    found, code = {}, []
    for i, line in enumerate(lines):
        stripped = line.strip()
        # first line of code: the rest is code
        if stripped and not stripped.startswith("#"):
            code += lines[i:]
            break
        match = DIRECTIVE.fullmatch(stripped)
        if match:
            found[match[1]] = match[2]
        else:
            code.append(line)
    return found, "\n".join(code).strip("\n")


def notebook_cells(nb_path):
    """[(index, directives, code)] for the code cells of a notebook; index counts all
    cells from 0."""
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    return [
        (i, *split_directives("".join(c["source"])))
        for i, c in enumerate(cells)
        if c["cell_type"] == "code"
    ]


def collect(book=BOOK):
    """Return {module: [Cell]} for the notebooks in `book`, in notebook order."""
    modules = {}
    for nb_path in sorted(Path(book).glob("*.ipynb")):
        parsed = notebook_cells(nb_path)
        default = next(
            (found["default_exp"] for _, found, _ in parsed if "default_exp" in found),
            None,
        )
        for index, found, code in parsed:
            if "export" not in found:
                continue
            module = found["export"] or default
            if not module:
                sys.exit(
                    f"{nb_path.name}: an `#| export` cell, but no `#| default_exp` in "
                    "the notebook"
                )
            modules.setdefault(module, []).append(Cell(nb_path.name, index, code))
    return modules


def is_patch(node):
    """True for a function decorated with `@patch(SomeClass)`: it becomes a method, not
    a name."""
    return any(
        isinstance(d, ast.Call) and getattr(d.func, "id", None) == "patch"
        for d in node.decorator_list
    )


def public_names(code):
    """Top-level functions and classes whose names do not start with an underscore."""
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [
        n.name
        for n in ast.parse(code).body
        if isinstance(n, defs) and not n.name.startswith("_") and not is_patch(n)
    ]


def patched_names(code):
    """Names of the cell's top-level `@patch(Class)` functions: methods now, so the
    module drops the name."""
    return [
        n.name
        for n in ast.parse(code).body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_patch(n)
    ]


def cell_text(cell):
    """A cell as the module holds it: its marker line, its code, and a `del` of the
    names it patched in."""
    patched = patched_names(cell.code)
    tail = (
        f"\ndel {', '.join(dict.fromkeys(patched))}   # now a method: no stray "
        "module-level name"
        if patched
        else ""
    )
    return f"# %% book/{cell.notebook} {cell.index}\n{cell.code}{tail}"


def module_names(cells):
    """{public name: notebook defining it} for a module's cells, in order, each name
    once."""
    names = {}
    for cell in cells:
        for name in public_names(cell.code):
            names.setdefault(name, cell.notebook)
    return names


def refuse_duplicates(exported):
    """Exit with a message if two modules export the same public name (`exported`:
    {module: names})."""
    owner = {}
    for module, names in exported.items():
        for name, notebook in names.items():
            if name in owner:
                first, first_notebook = owner[name]
                sys.exit(
                    f"nbexport: `{name}` is exported by two modules: "
                    f"nnscratch/{first}.py "
                    f"(book/{first_notebook}) and nnscratch/{module}.py "
                    f"(book/{notebook}). "
                    f"Rename one, or start it with `_` to keep it private."
                )
            owner[name] = module, notebook


def import_key(node, alias):
    """(statement key, bound name, what the name is bound to) for one name of an import
    statement."""
    if isinstance(node, ast.Import):
        bound = alias.asname or alias.name.partition(".")[0]
        # `import a.b` binds the package `a`
        target = alias.name if alias.asname else bound
        return ("import", alias.name, alias.asname), bound, ("module", target)
    module = "." * node.level + (node.module or "")
    return ("from", module), alias.asname or alias.name, ("from", module, alias.name)


def hoist_imports(cells, module="module"):
    """(the module's import lines, its cells without their top-level imports), in
    first-seen order.

    Only a cell's top-level `import` and `from ... import` statements move (one inside a
    function, an `if` or a `try` stays where it is), unless they share a line with other
    code. Repeats are written once; `from M import a` and a later `from M import b`
    become one `from M import a, b`; `from __future__` comes first. A name imported from
    two different places is refused: which one wins would depend on where the imports
    stood. A cell left empty disappears.
    """
    statements, bound, kept = {}, {}, []
    for cell in cells:
        lines = cell.code.splitlines()
        body = ast.parse(cell.code).body
        taken = set()
        for node in body:
            span = range(node.lineno - 1, node.end_lineno)
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or any(
                other is not node
                and {other.lineno - 1, other.end_lineno - 1} & set(span)
                for other in body
            ):
                continue
            taken.update(span)
            for alias in node.names:
                key, name, target = import_key(node, alias)
                if bound.setdefault(name, (target, cell))[0] != target:
                    first = bound[name][1]
                    sys.exit(
                        f"nbexport: nnscratch/{module}.py imports `{name}` twice, "
                        "differently: "
                        f"book/{first.notebook} cell {first.index} and "
                        f"book/{cell.notebook} "
                        f"cell {cell.index}. Import it once, or under two names."
                    )
                names = statements.setdefault(key, [])
                if key[0] == "from" and (alias.name, alias.asname) not in names:
                    names.append((alias.name, alias.asname))
        code = "\n".join(line for i, line in enumerate(lines) if i not in taken)
        # at most two blank lines in a row
        code = re.sub(r"\n{4,}", "\n\n\n", code).strip("\n")
        if code:
            kept.append(cell._replace(code=code))
    future = [key for key in statements if key == ("from", "__future__")]
    order = future + [key for key in statements if key not in future]
    return [import_line(key, statements[key]) for key in order], kept


def import_line(key, names):
    """The text of one import statement, wrapped in parentheses if it is longer than
    LINE."""
    if key[0] == "import":
        return f"import {key[1]}" + (f" as {key[2]}" if key[2] else "")
    items = [name + (f" as {asname}" if asname else "") for name, asname in names]
    return wrapped(f"from {key[1]} import ", items, "()", on_one_line=False)


def wrapped(start, items, brackets, on_one_line=True):
    """`start` and the items joined by ", " on one line, or in brackets over lines of at
    most LINE."""
    opening, closing = brackets if on_one_line else ("", "")
    line = start + opening + ", ".join(items) + closing
    if len(line) <= LINE:
        return line
    rows, row = [], "   "
    for item in items:
        if row.strip() and len(row) + len(item) + 2 > LINE:
            rows.append(row)
            row = "   "
        row += f" {item},"
    return f"{start}{brackets[0]}\n" + "\n".join(rows + [row]) + f"\n{brackets[1]}"


def render_module(cells, names, module="module"):
    """The text of one module: header, its imports, `__all__`, then each cell after its
    marker."""
    notebooks = "".join(
        f"book/{nb}\n" for nb in dict.fromkeys(c.notebook for c in cells)
    )
    header = (
        '"""Generated by tools/nbexport.py from these notebooks: edit them, not this '
        'file.\n\n'
        f'{notebooks}"""\n'
        "# AUTOGENERATED: run `make export` after editing the notebooks above.\n"
        "# A line `# %% book/NOTEBOOK.ipynb N` starts the code of that notebook's cell "
        "N\n"
        "# (0-based); the module's imports, gathered from all its cells, come "
        "first.\n\n"
    )
    imports, cells = hoist_imports(cells, module)
    head = "\n".join(imports) + "\n\n" if imports else ""
    body = "\n\n\n".join(cell_text(c) for c in cells)
    return (
        header
        + head
        + wrapped("__all__ = ", [repr(n) for n in names], "[]")
        + "\n\n\n"
        + body
        + "\n"
    )


def render_init(exported):
    """The text of `__init__.py`: the modules' public names (except NOT_REEXPORTED's),
    the version."""
    public = [module for module in exported if module not in NOT_REEXPORTED]
    imports = "".join(
        wrapped(f"from .{module} import ", list(exported[module]), "()", False) + "\n"
        if exported[module]
        # no public name, only @patch methods: import it anyway, or they never apply
        else f"from . import {module}  # noqa: F401\n"
        for module in public
    )
    everything = [repr(name) for module in public for name in exported[module]]
    hidden = ", ".join(f"nnscratch.{m}" for m in NOT_REEXPORTED if m in exported)
    doc = textwrap.fill(
        "`from nnscratch import *` gives the public names of every module except "
        f"{hidden}: import those by name.",
        LINE - 3,
    )
    return (
        '"""nnscratch: a neural network from scratch with NumPy.\n\n'
        "Generated by tools/nbexport.py from the notebooks in book/: do not edit.\n"
        f'{doc}"""\n'
        "from importlib.metadata import PackageNotFoundError, version\n\n"
        + imports
        + "\n"
        "try:\n"
        '    __version__ = version("nnscratch")   # the version written in '
        'pyproject.toml\n'
        "except PackageNotFoundError:             # not installed: run `pip install -e "
        ".`\n"
        '    __version__ = "0+unknown"\n\n'
        + wrapped("__all__ = ", everything, "[]")
        + "\n"
    )


def render(modules):
    """Return {file name in nnscratch/: file text} for the whole package."""
    exported = {module: module_names(cells) for module, cells in modules.items()}
    refuse_duplicates(exported)
    files = {
        f"{module}.py": render_module(cells, exported[module], module)
        for module, cells in modules.items()
    }
    files["__init__.py"] = render_init(exported)
    return files


def read(path):
    """A file's exact text (no newline translation), or None if it does not exist."""
    return (
        path.read_bytes().decode("utf-8", errors="replace") if path.exists() else None
    )


def check(package, wanted):
    """Report files that differ from `wanted` or that no notebook produces; 1 if any,
    else 0."""
    stale = sorted(
        name for name, text in wanted.items() if read(package / name) != text
    )
    orphans = sorted({p.name for p in package.glob("*.py")} - set(wanted))
    for name in stale:
        print(
            f"nnscratch/{name} differs from what the notebooks export (hand edit, or "
            "`make export` not run)"
        )
    for name in orphans:
        print(
            f"nnscratch/{name} is produced by no notebook: delete it, or export it "
            "from one"
        )
    if stale or orphans:
        print("Fix: edit the notebook in book/, then run `make export`.")
        return 1
    print(f"nnscratch/ is in sync with the notebooks ({len(wanted)} files)")
    return 0


def write(package, wanted):
    """Write the files of `wanted` that changed and delete the modules no notebook
    produces."""
    package.mkdir(exist_ok=True)
    for path in package.glob("*.py"):
        if path.name not in wanted:
            path.unlink()
            print(f"deleted nnscratch/{path.name}")
    for name, text in wanted.items():
        if read(package / name) != text:
            (package / name).write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote nnscratch/{name}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="fail if nnscratch/ differs from the notebooks",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="folder holding book/ and nnscratch/ (default: this repository)",
    )
    args = parser.parse_args(argv)
    wanted = render(collect(args.root / "book"))
    package = args.root / "nnscratch"
    return check(package, wanted) if args.check else write(package, wanted)


if __name__ == "__main__":
    sys.exit(main())
