"""Sphinx extension: keep the exporter's `#|` directive lines off the website.

Directives are read exactly as tools/nbexport.py reads them (same function): only from a
code cell's leading lines, with any spacing after `#|` (`#| hide` and `#|hide` are the
same). Those lines are removed from the cell's shown input. A cell that says `#| hide`,
or whose input holds nothing else (e.g. `#| default_exp layers`), loses its input box
entirely; its outputs, if any, are still shown.
"""

from docutils import nodes

# jupyter-book puts tools/ on sys.path (see _config.yml)
from nbexport import split_directives


def shown_code(source):
    """The code a cell shows on the website, or None to remove its input box."""
    found, code = split_directives(source)
    if not found:
        return source
    return None if "hide" in found or not code else code


def _strip(app, doctree):
    for block in list(doctree.findall(nodes.literal_block)):
        box = block.parent
        if "cell_input" not in box.get("classes", []):
            continue
        source = block.astext()
        code = shown_code(source)
        if code is None:
            box.parent.remove(box)
        elif code != source:
            block.rawsource = code
            block.children = [nodes.Text(code)]


def setup(app):
    app.connect("doctree-read", _strip)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
