"""Sphinx extension: keep the exporter's `#|` directive lines off the website.

Directive lines are removed from every code cell's input. A cell whose input holds
nothing else (e.g. `#| default_exp layers`), or that says `#| hide`, loses its input
box entirely; its outputs, if any, are still shown.
"""
from docutils import nodes


def _strip(app, doctree):
    for block in list(doctree.findall(nodes.literal_block)):
        box = block.parent
        if "cell_input" not in box.get("classes", []):
            continue
        lines = block.astext().splitlines()
        if not any(line.startswith("#|") for line in lines):
            continue
        code = "\n".join(line for line in lines if not line.startswith("#|")).strip("\n")
        if not code or any(line.strip() == "#| hide" for line in lines):
            box.parent.remove(box)
            continue
        block.rawsource = code
        block.children = [nodes.Text(code)]


def setup(app):
    app.connect("doctree-read", _strip)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
