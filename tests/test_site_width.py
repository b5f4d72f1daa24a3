"""Every page of the built site reads without sideways scrolling at 1366 px.

A code block (a cell's input, its output, or code in the prose) or a display equation
that is wider than its box makes the reader scroll it sideways to see the end of its
lines. At 1366 px, a common laptop width, no block may be. The code column holds about
91 characters there (_static/custom.css), so code lines of at most 88 (ruff's line
length in pyproject.toml) fit; outputs wrap (custom.css); long equations are split with
`aligned`.

It opens the pages in the same headless Chromium as tests/test_offline_site.py, with
the network cut, and skips, saying why, without chromium, chromedriver or selenium.
Ruff checks the code cells' lines; the code blocks inside the prose (exercises,
solutions) are checked here, without a browser.
"""

import json
import re
from pathlib import Path

import pytest
from test_offline_site import _open, browser, served_site  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1366, 900
LINE_LENGTH = 88  # ruff's line-length in pyproject.toml

# Every block that must fit its box: what the reader would otherwise scroll.
BLOCKS = """
    const kind = e => {
        if (e.matches('mjx-container, div.math')) return 'equation';
        if (e.closest('.cell_input')) return 'input';
        if (e.closest('.cell_output')) return 'output';
        return 'code in the text';
    };
    const blocks = document.querySelectorAll([
        'article pre',
        'article .cell_output .output.text_html',
        'article mjx-container[display="true"]',
        'article div.math',
    ].join(', '));
    const tex = e => {  // an equation's TeX source, as MathJax 3 keeps it
        try {
            const items = MathJax.startup.document.getMathItemsWithin(e);
            return items.length ? items[0].math : null;
        } catch (error) {
            return null;
        }
    };
    return Array.from(blocks, (e, i) => {
        const text = kind(e) === 'equation' ? tex(e) : null;
        const lines = (text || e.innerText || e.textContent || '').split('\\n');
        const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
        return {kind: kind(e), index: i, scroll: e.scrollWidth, client: e.clientWidth,
                longest: longest.length, text: longest.trim().slice(0, 70)};
    }).filter(b => b.scroll > b.client);
"""


def _typeset(driver):
    """Wait until MathJax has typeset the page (at once if the page has no math)."""
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const startup = window.MathJax && window.MathJax.startup;
        if (startup && startup.promise) startup.promise.then(() => done(true), done);
        else done(false);
    """)


@pytest.fixture(scope="module")
def wide_browser(browser):  # noqa: F811 (the fixture imported above)
    """The offline Chromium with a viewport WIDTH px wide."""
    browser.set_window_size(WIDTH, HEIGHT)
    inner = browser.execute_script("return window.innerWidth")
    if inner != WIDTH:  # the window's frame takes the difference
        browser.set_window_size(2 * WIDTH - inner, HEIGHT)
    assert browser.execute_script("return window.innerWidth") == WIDTH
    return browser


def _pages(built_site):
    pages = sorted(
        p.relative_to(built_site).as_posix()
        for p in (built_site / "book").glob("*.html")
    )
    assert pages, f"no pages in {built_site / 'book'}"
    return pages


def test_the_code_column_holds_88_characters(wide_browser, served_site, built_site):  # noqa: F811
    """88 characters of code fit in a code cell at 1366 px: ruff's limit fits."""
    page = next(
        p for p in _pages(built_site) if "cell_input" in (built_site / p).read_text()
    )
    _open(wide_browser, f"{served_site}/{page}")
    chars = wide_browser.execute_script("""
        const pre = document.querySelector('article .cell_input pre');
        if (!pre) return null;
        const probe = document.createElement('span');
        probe.textContent = 'x'.repeat(100);
        pre.appendChild(probe);
        const width = probe.getBoundingClientRect().width / 100;
        probe.remove();
        const style = getComputedStyle(pre);
        const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
        return (pre.clientWidth - padding) / width;
    """)
    assert chars is not None, f"{page} has no code cell"
    assert chars >= 88, (
        f"only {chars:.1f} characters fit in a code cell of {page} at {WIDTH} px"
    )


def test_no_block_scrolls_sideways(wide_browser, served_site, built_site):  # noqa: F811
    """No code block or display equation on any page is wider than its box."""
    problems = []
    for page in _pages(built_site):
        _open(wide_browser, f"{served_site}/{page}")
        _typeset(wide_browser)
        for block in wide_browser.execute_script(BLOCKS):
            problems.append(
                f"{page}: {block['kind']} (block {block['index']}) is "
                f"{block['scroll']} px wide in a {block['client']} px box; its longest "
                f"line ({block['longest']} characters): {block['text']!r}"
            )
    assert not problems, (
        f"{len(problems)} blocks scroll sideways at {WIDTH} px:\n" + "\n".join(problems)
    )


# A fence opens a code block unless it names a directive other than code
# (```{exercise}, ```{solution}, ... hold prose, and maybe code blocks of their own).
FENCE = re.compile(r"\s*(`{3,}|~{3,})\s*(\{[^}]*\})?\s*(\S*)")
CODE_DIRECTIVES = {None, "{code-block}", "{code}", "{code-cell}"}


def code_lines_in_markdown(source):
    """The lines of the code blocks in one markdown cell."""
    open_fences = []  # (fence, holds code)
    for line in source.splitlines():
        fence = FENCE.match(line)
        if fence:
            mark, directive, info = fence.groups()
            closes = open_fences and open_fences[-1][0] == mark
            if closes and not directive and not info:
                open_fences.pop()
                continue
            if not open_fences or not open_fences[-1][1]:
                open_fences.append((mark, directive in CODE_DIRECTIVES))
                continue
        if open_fences and open_fences[-1][1]:
            yield line


def test_code_blocks_in_the_prose_fit_the_column():
    """Code in the prose (e.g. a solution's) keeps to ruff's 88 characters too."""
    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    assert notebooks
    long_lines = []
    for path in notebooks:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "markdown":
                continue
            for line in code_lines_in_markdown("".join(cell["source"])):
                if len(line) > LINE_LENGTH:
                    long_lines.append(f"{path.name} cell {index} ({len(line)}): {line}")
    assert not long_lines, "code lines in the prose longer than 88 characters:\n" + (
        "\n".join(long_lines)
    )


def test_code_blocks_in_markdown_are_found():
    source = "\n".join(
        [
            "Text with a very long line " + "x" * 100,
            "````{solution} ex-1",
            "Prose in a solution " + "y" * 100,
            "```python",
            "code = 1",
            "```",
            "````",
            "```",
            "plain = 2",
            "```",
        ]
    )
    assert list(code_lines_in_markdown(source)) == ["code = 1", "plain = 2"]
