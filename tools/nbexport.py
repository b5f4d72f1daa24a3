"""Export the `#| export` cells of the book's notebooks into the `nnscratch` package.

A small, standard-library exporter in the style of nbdev.

Directives are read only from a code cell's leading lines: the lines before its first line of
code (blank lines and ordinary `#` comments may sit among them). A directive line is `#|`, optional
whitespace, a name and an optional argument: `#| export`, `#|export`, `#| export  data` all work.
Directive lines are dropped from the exported code; the other leading comments are kept. A `#|`
line after the first line of code is an ordinary comment and stays in the code.

* `#| default_exp NAME` names the module the notebook's export cells go to;
* `#| export` sends a code cell to that module, `#| export OTHER` to `nnscratch/OTHER.py`;
* `#| hide` is for the website (tools/hide_directives.py): the exporter just drops the line;
* a one-line import that a module already has is written once, however many notebooks repeat it;
* every public top-level `def`/`class` of a module is listed in its `__all__` (except names starting
  with `_` and functions decorated with `@patch(Class)`, which become methods: the module `del`s
  their names after the cell, so no stray module-level name is left); two modules exporting the
  same public name is an error;
* each exported cell starts with a marker line `# %% book/NOTEBOOK.ipynb N`, where N is the cell's
  0-based index in the notebook's whole `cells` list (markdown cells included), as nbformat counts;
* `nnscratch/__init__.py` re-exports every module's `__all__`, in notebook order, except the
  modules in NOT_REEXPORTED; `nnscratch.__version__` comes from the installed package's metadata,
  so pyproject.toml is the one place the version number is written.

Files are read and written as UTF-8 whatever the locale.

Usage:
    python tools/nbexport.py                # write nnscratch/
    python tools/nbexport.py --check        # exit 1, naming the files, if nnscratch/ is out of date
    python tools/nbexport.py --root DIR     # work on DIR/book and DIR/nnscratch instead
"""
import argparse
import ast
import json
import re
import sys
from collections import namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK, PACKAGE = ROOT / "book", ROOT / "nnscratch"

# Modules left out of `from nnscratch import *`: the @patch helper, the deliberately slow reference
# code and the Jupyter widgets (which need ipywidgets). Import them by name: `from nnscratch import widgets`.
NOT_REEXPORTED = ("patch", "reference", "widgets")

DIRECTIVE = re.compile(r"#\|\s*(\S*)\s*(.*)")   # matched against a stripped line: `#| name argument`

# One exported cell: its notebook's file name, its index in the notebook's `cells`, its code.
Cell = namedtuple("Cell", "notebook index code")


def split_directives(source):
    """Split a cell's source into ({directive: argument}, code without the directive lines).

    Only the leading lines count: the first line that is neither blank nor a comment ends them.
    """
    lines = source.splitlines()
    found, code = {}, []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):      # first line of code: the rest is code
            code += lines[i:]
            break
        match = DIRECTIVE.fullmatch(stripped)
        if match:
            found[match[1]] = match[2]
        else:
            code.append(line)
    return found, "\n".join(code).strip("\n")


def notebook_cells(nb_path):
    """[(index, directives, code)] for the code cells of a notebook; index counts all cells from 0."""
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    return [(i, *split_directives("".join(c["source"]))) for i, c in enumerate(cells) if c["cell_type"] == "code"]


def collect(book=BOOK):
    """Return {module: [Cell]} for the notebooks in `book`, in notebook order."""
    modules = {}
    for nb_path in sorted(Path(book).glob("*.ipynb")):
        parsed = notebook_cells(nb_path)
        default = next((found["default_exp"] for _, found, _ in parsed if "default_exp" in found), None)
        for index, found, code in parsed:
            if "export" not in found:
                continue
            module = found["export"] or default
            if not module:
                sys.exit(f"{nb_path.name}: an `#| export` cell, but no `#| default_exp` in the notebook")
            modules.setdefault(module, []).append(Cell(nb_path.name, index, code))
    return modules


def is_patch(node):
    """True for a function decorated with `@patch(SomeClass)`: it becomes a method, not a name."""
    return any(isinstance(d, ast.Call) and getattr(d.func, "id", None) == "patch" for d in node.decorator_list)


def public_names(code):
    """Top-level functions and classes whose names do not start with an underscore."""
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [n.name for n in ast.parse(code).body
            if isinstance(n, defs) and not n.name.startswith("_") and not is_patch(n)]


def patched_names(code):
    """Names of the cell's top-level `@patch(Class)` functions: methods now, so the module drops the name."""
    return [n.name for n in ast.parse(code).body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_patch(n)]


def cell_text(cell):
    """A cell as the module holds it: its marker line, its code, and a `del` of the names it patched in."""
    patched = patched_names(cell.code)
    tail = f"\ndel {', '.join(dict.fromkeys(patched))}   # now a method: no stray module-level name" if patched else ""
    return f"# %% book/{cell.notebook} {cell.index}\n{cell.code}{tail}"


def module_names(cells):
    """{public name: notebook defining it} for a module's cells, in order, each name once."""
    names = {}
    for cell in cells:
        for name in public_names(cell.code):
            names.setdefault(name, cell.notebook)
    return names


def refuse_duplicates(exported):
    """Exit with a message if two modules export the same public name (`exported`: {module: names})."""
    owner = {}
    for module, names in exported.items():
        for name, notebook in names.items():
            if name in owner:
                first, first_notebook = owner[name]
                sys.exit(f"nbexport: `{name}` is exported by two modules: nnscratch/{first}.py "
                         f"(book/{first_notebook}) and nnscratch/{module}.py (book/{notebook}). "
                         f"Rename one, or start it with `_` to keep it private.")
            owner[name] = module, notebook


def is_import(line):
    """True for a whole, unindented one-line import statement."""
    if not line.startswith(("import ", "from ")):
        return False
    try:
        return isinstance(ast.parse(line).body[0], (ast.Import, ast.ImportFrom))
    except SyntaxError:            # the first line of a multi-line import
        return False


def without_repeated_imports(cells):
    """Drop one-line imports a module already has (a second notebook repeats them); drop emptied cells."""
    seen, kept = set(), []
    for cell in cells:
        lines = [line for line in cell.code.splitlines() if not (is_import(line) and line in seen)]
        seen.update(line for line in lines if is_import(line))
        code = "\n".join(lines).strip("\n")
        if code:
            kept.append(cell._replace(code=code))
    return kept


def render_module(cells, names):
    """The text of one module: header, `__all__`, then each cell after its `# %%` marker."""
    edit = ", ".join(f"book/{notebook}" for notebook in dict.fromkeys(c.notebook for c in cells))
    header = (f'"""Generated by tools/nbexport.py from {edit}: edit the notebook, not this file."""\n'
              f"# AUTOGENERATED: run `make export` after editing {edit}.\n"
              f"# A line `# %% book/NOTEBOOK.ipynb N` starts the code of that notebook's cell N (0-based).\n\n")
    body = "\n\n\n".join(cell_text(c) for c in without_repeated_imports(cells))
    return header + f"__all__ = {list(names)!r}\n\n\n" + body + "\n"


def render_init(exported):
    """The text of `__init__.py`: the version, then star imports of the modules not in NOT_REEXPORTED."""
    public = [module for module in exported if module not in NOT_REEXPORTED]
    imports = "".join(f"from .{module} import *  # noqa: F401,F403\n" for module in public)
    everything = [name for module in public for name in exported[module]]
    hidden = ", ".join(f"nnscratch.{m}" for m in NOT_REEXPORTED)
    return ('"""nnscratch: a neural network from scratch with NumPy.\n\n'
            'Generated by tools/nbexport.py from the notebooks in book/: do not edit.\n'
            '`from nnscratch import *` gives the public names of every module except\n'
            f'{hidden}: import those by name."""\n'
            "from importlib.metadata import PackageNotFoundError, version\n\n"
            "try:\n"
            '    __version__ = version("nnscratch")   # the version written in pyproject.toml\n'
            "except PackageNotFoundError:             # not installed: run `pip install -e .`\n"
            '    __version__ = "0+unknown"\n\n'
            + imports + f"\n__all__ = {everything!r}\n")


def render(modules):
    """Return {file name in nnscratch/: file text} for the whole package."""
    exported = {module: module_names(cells) for module, cells in modules.items()}
    refuse_duplicates(exported)
    files = {f"{module}.py": render_module(cells, exported[module]) for module, cells in modules.items()}
    files["__init__.py"] = render_init(exported)
    return files


def read(path):
    """A file's exact text (no newline translation), or None if it does not exist."""
    return path.read_bytes().decode("utf-8", errors="replace") if path.exists() else None


def check(package, wanted):
    """Report files that differ from `wanted` or that no notebook produces; 1 if any, else 0."""
    stale = sorted(name for name, text in wanted.items() if read(package / name) != text)
    orphans = sorted({p.name for p in package.glob("*.py")} - set(wanted))
    for name in stale:
        print(f"nnscratch/{name} differs from what the notebooks export (hand edit, or `make export` not run)")
    for name in orphans:
        print(f"nnscratch/{name} is produced by no notebook: delete it, or export it from one")
    if stale or orphans:
        print("Fix: edit the notebook in book/, then run `make export`.")
        return 1
    print(f"nnscratch/ is in sync with the notebooks ({len(wanted)} files)")
    return 0


def write(package, wanted):
    """Write the files of `wanted` that changed and delete the modules no notebook produces."""
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
    parser.add_argument("--check", action="store_true", help="fail if nnscratch/ differs from the notebooks")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="folder holding book/ and nnscratch/ (default: this repository)")
    args = parser.parse_args(argv)
    wanted = render(collect(args.root / "book"))
    package = args.root / "nnscratch"
    return check(package, wanted) if args.check else write(package, wanted)


if __name__ == "__main__":
    sys.exit(main())
