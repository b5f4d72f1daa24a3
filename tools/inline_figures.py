"""Sphinx extension: the chapters' figures appear on the website whatever the shell's
environment says.

The website build runs every notebook in a Jupyter kernel. ipykernel shows matplotlib
figures inline only when MPLBACKEND is unset (it then picks its inline backend);
headless servers and CI often export MPLBACKEND=Agg, and under Agg `plt.show()` draws
nothing, so the site would silently lose every figure. This extension sets the inline
backend for the kernels the build starts (they inherit this process's environment), so
`make book` builds the same pages on any machine. tests/test_book_build.py builds with
MPLBACKEND=Agg on purpose and fails if a chapter that plots has no images.
"""

import os

INLINE = "module://matplotlib_inline.backend_inline"


def setup(app):
    os.environ["MPLBACKEND"] = INLINE
    return {"parallel_read_safe": True, "parallel_write_safe": True}
