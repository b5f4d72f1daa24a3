"""The website renders with the network switched off: math, figures and widgets, in
headless Chromium.

The built site is served from 127.0.0.1; Chromium resolves every other host name to
nothing and sends all other traffic to a proxy that does not exist, so anything a page
tried to load from a CDN would fail. Screenshots are saved in _build/screenshots/.
Without chromium, chromedriver or selenium the test skips.
"""

import functools
import http.server
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import offline_assets  # noqa: E402

SCREENSHOTS = ROOT / "_build" / "screenshots"
MATH_PAGE = "book/01_chain_rule.html"
# the explorers, trained once while the page was built
WIDGET_PAGE = "book/22_explorers.html"
EXPLORER_PAGES = [WIDGET_PAGE]


def _chromium():
    webdriver = pytest.importorskip(
        "selenium.webdriver",
        reason="selenium is not installed (pip install -r requirements.txt)",
    )
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip(
            "needs Debian's `chromium` and `chromium-driver` (apt-get install -y "
            "chromium chromium-driver); "
            f"found chromium={browser}, chromedriver={driver}"
        )
    return webdriver, browser, driver


@pytest.fixture(scope="module")
def served_site(built_site):
    handler = functools.partial(QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    webdriver, binary, driver_path = _chromium()
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile = tempfile.mkdtemp(prefix="nnscratch-chromium-")
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--window-size=1280,1400",
        f"--user-data-dir={profile}",
        # no network: every host but 127.0.0.1 is unknown, and anything else goes to a
        # dead proxy
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
    ]:
        options.add_argument(flag)
    driver = webdriver.Chrome(
        service=Service(executable_path=driver_path), options=options
    )
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _open(driver, url):
    driver.get(url)
    assert "127.0.0.1" in driver.current_url, (
        f"{url} did not load (current URL {driver.current_url})"
    )


def _wait_for(driver, css, timeout=60):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, css)
        )
    except Exception:
        pytest.fail(f"no {css!r} on {driver.current_url} after {timeout} s")


def _failed_or_remote_loads(driver):
    """Resources the page requested that failed (HTTP status >= 400) or came from
    another origin."""
    return driver.execute_script("""
        return performance.getEntriesByType('resource').filter(
            e => e.responseStatus >= 400
                || !(e.name.startsWith(location.origin) || e.name.startsWith('data:'))
        ).map(e => e.name + ' ' + e.responseStatus);
    """)


def _screenshot(driver, element, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.execute_script(
        "(arguments[0].closest('.cell') || arguments[0]).scrollIntoView({block: "
        "'start'});"
        "window.scrollBy(0, -120);",
        element,
    )
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


def test_the_browser_really_is_offline(browser, served_site):
    _open(browser, f"{served_site}/{MATH_PAGE}")
    error = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('https://cdn.jsdelivr.net/npm/requirejs@2.3.8/require.js')
            .then(() => done(null), e => done(String(e)));
    """)
    assert error, (
        "the browser reached a CDN: the offline check below would prove nothing"
    )


def test_math_is_typeset_by_the_local_mathjax(browser, served_site, built_site):
    html = (built_site / MATH_PAGE).read_text()
    assert (
        "_static/mathjax/tex-chtml.js" in html
        and "cdn.jsdelivr.net/npm/mathjax" not in html
    )
    _open(browser, f"{served_site}/{MATH_PAGE}")
    formulas = _wait_for(browser, "mjx-container")
    unrendered = browser.execute_script("""
        const article = document.querySelector('article').cloneNode(true);
        article.querySelectorAll('pre, code, script, mjx-container')
            .forEach(e => e.remove());
        const text = article.textContent;
        return ['\\\\(', '\\\\[', '$$'].filter(d => text.includes(d));
    """)
    assert unrendered == [], (
        f"raw TeX delimiters {unrendered} left in {MATH_PAGE}: MathJax did not run"
    )
    assert len(formulas) >= 5
    assert _failed_or_remote_loads(browser) == []
    _screenshot(browser, formulas[0], "01_chain_rule.png")


def test_figures_load(browser, served_site, built_site):
    pages = sorted(
        p for p in (built_site / "book").glob("*.html") if "_images/" in p.read_text()
    )
    assert pages, "no page of the book shows a figure"
    _open(browser, f"{served_site}/book/{pages[0].name}")
    images = browser.execute_script("""
        return Array.from(document.querySelectorAll('article img')).map(
            img => [img.getAttribute('src'), img.complete, img.naturalWidth]);
    """)
    figures = [img for img in images if "_images/" in img[0]]
    assert figures, f"no figure <img> on {pages[0].name}"
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert broken == [], f"images that did not load on {pages[0].name}: {broken}"


def test_widgets_render_their_saved_state(browser, served_site, built_site):
    html = (built_site / WIDGET_PAGE).read_text()
    assert "application/vnd.jupyter.widget-state+json" in html, (
        "the page holds no saved widget state"
    )
    assert all(f"_static/offline/{name}" in html for name in offline_assets.SCRIPTS), (
        "the widget JavaScript is not served locally: the build could not fetch it "
        "from npm "
        "(see the '[offline assets]' lines of the build log)"
    )
    assert (
        built_site / "_static" / "offline" / "embed-amd.js"
    ).stat().st_size > 1_000_000
    _open(browser, f"{served_site}/{WIDGET_PAGE}")
    buttons = _wait_for(browser, ".jupyter-widgets .widget-button")
    assert any(b.text.strip() == "Train" for b in buttons)
    assert browser.find_elements(
        "css selector", ".jupyter-widgets .widget-slider, .jupyter-widgets .slider"
    )
    assert browser.find_elements("css selector", ".jupyter-widgets .widget-dropdown")
    plots = browser.execute_script("""
        const images = document.querySelectorAll('.jupyter-widgets img');
        return Array.from(images).map(img => img.naturalWidth);
    """)
    assert plots and all(width > 0 for width in plots), (
        f"the explorers' saved plots did not render: {plots}"
    )
    assert _failed_or_remote_loads(browser) == []
    _screenshot(browser, buttons[0], "22_explorers.png")


def test_without_npm_the_build_falls_back_to_the_cdn_and_says_so(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(offline_assets.shutil, "which", lambda name: None)
    assert offline_assets.fetch(cache=tmp_path / "assets") is None
    assert "npm is not installed" in capsys.readouterr().out

    class App:
        pass

    class Config:
        nb_ipywidgets_js = {"https://cdn.example/require.js": {}}

    monkeypatch.setattr(offline_assets, "CACHE", tmp_path / "assets")
    app, config = App(), Config()
    offline_assets._configure(app, config)
    assert app.offline_assets is None and config.nb_ipywidgets_js == {
        "https://cdn.example/require.js": {}
    }
    assert "will not render without a network" in capsys.readouterr().out


def test_a_failing_npm_is_reported(tmp_path, monkeypatch, capsys):
    fake_npm = tmp_path / "npm"
    fake_npm.write_text("#!/bin/sh\necho 'registry unreachable' >&2\nexit 1\n")
    fake_npm.chmod(0o755)
    monkeypatch.setattr(offline_assets.shutil, "which", lambda name: str(fake_npm))
    assert offline_assets.fetch(cache=tmp_path / "assets") is None
    assert "registry unreachable" in capsys.readouterr().out


def test_every_page_with_widgets_renders_them(browser, served_site, built_site):
    pages = sorted(
        p.relative_to(built_site).as_posix()
        for p in (built_site / "book").glob("*.html")
        if "application/vnd.jupyter.widget-state+json" in p.read_text()
    )
    assert set(EXPLORER_PAGES) <= set(pages), f"pages with saved widget state: {pages}"
    for page in pages:
        _open(browser, f"{served_site}/{page}")
        _wait_for(browser, ".widget-subarea .jupyter-widgets")
        views, rendered = browser.execute_script("""
            const views = document.querySelectorAll(
                'script[type="application/vnd.jupyter.widget-view+json"]');
            const areas = document.querySelectorAll('.widget-subarea');
            const filled = Array.from(areas).filter(
                area => area.querySelector('.jupyter-widgets'));
            return [views.length, filled.length];
        """)
        assert views and rendered == views, (
            f"{page}: {views} saved widget views, {rendered} rendered"
        )
        if page in EXPLORER_PAGES:
            assert any(
                b.text.strip() == "Train"
                for b in browser.find_elements("css selector", ".widget-button")
            ), page
        assert _failed_or_remote_loads(browser) == [], page


def test_training_animations_play_offline(browser, served_site, built_site):
    """matplotlib's JavaScript player (Animation.to_jshtml) shows its first frame with
    the network cut."""
    pages = sorted(
        p.relative_to(built_site).as_posix()
        for p in (built_site / "book").glob("*.html")
        if 'class="animation"' in p.read_text(encoding="utf-8")
    )
    for expected in ("book/06_training.html", "book/07_function_approximation.html"):
        assert expected in pages, f"pages with an animation: {pages}"
    for page in pages:
        size = (built_site / page).stat().st_size
        assert size < 3_000_000, (
            f"{page} weighs {size / 1e6:.1f} MB: keep animations small"
        )
        _open(browser, f"{served_site}/{page}")
        players = _wait_for(browser, ".animation img")
        widths = browser.execute_script(
            "return Array.from(document.querySelectorAll('.animation img')).map(img => "
            "img.complete && img.naturalWidth);"
        )
        assert widths and all(w and w > 0 for w in widths), (
            f"{page}: animation frames not shown: {widths}"
        )
        assert _failed_or_remote_loads(browser) == [], page
        _screenshot(
            browser, players[0], page.split("/")[-1].replace(".html", "_animation.png")
        )
