"""Make the website render without a network: serve the widget JavaScript from the site
itself.

Pages that show ipywidgets need require.js and @jupyter-widgets/html-manager; by default
myst-nb loads both from CDNs. This file pins both packages, fetches them once from the
npm registry with `npm pack` (the tarballs' sha512 checked against the pins) into
_build/offline_assets/ (git-ignored, never committed), with the widget manager's icon
fonts and a three-line require.js configuration that tells it where they are. As a
Sphinx extension listed in _config.yml, it copies them into the built site's
_static/offline/ and points myst-nb's `nb_ipywidgets_js` at them. (They are copied into
the *built* _static only: a .js file in the book's own _static/ folder would be loaded
on every page.) Math needs no network either: sphinx-mathjax-offline serves MathJax from
_static/mathjax/.

Without npm or the registry the build still succeeds: widget pages then use the CDN
defaults, and the build prints a line saying so.

Usage: python tools/offline_assets.py   # fetch now (the website build also fetches when
needed)
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / "offline_assets"
SITE_FOLDER = "offline"  # inside the built site's _static/

# package -> (version, sha512 of the npm tarball); html-manager 1.0.x is the one for
# ipywidgets 8.1.
PINNED = {
    "requirejs": (
        "2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
    ),
    "@jupyter-widgets/html-manager": (
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
    ),
}
# file served by the site -> (package, path inside the tarball)
FILES = {
    "require.js": ("requirejs", "package/require.js"),
    "embed-amd.js": ("@jupyter-widgets/html-manager", "package/dist/embed-amd.js"),
}
# its icon fonts
FONTS = ("@jupyter-widgets/html-manager", "package/dist/", (".woff2", ".woff"))
# The widget manager finds its fonts through require.js, relative to the *page* unless
# told otherwise.
PATHS_JS = """// Written by tools/offline_assets.py: the widget manager's own files
// (its icon fonts) are in this folder.
(function () {
  var folder = document.currentScript.src.replace(/\\/[^\\/]*$/, "");
  require.config({paths: {"@jupyter-widgets/html-manager/dist": folder,
                          "@jupyter-widgets": folder}});
})();
"""
# in the order the pages load them
SCRIPTS = ["require.js", "widgets-paths.js", "embed-amd.js"]


def say(text):
    print(f"[offline assets] {text}", flush=True)


def _is_complete(folder):
    stamp = folder / "pinned.json"
    return (
        stamp.exists()
        and json.loads(stamp.read_text()) == {k: v[0] for k, v in PINNED.items()}
        and all((folder / name).is_file() for name in SCRIPTS)
    )


def _sha512(path):
    return (
        "sha512-"
        + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
    )


def fetch(cache=CACHE, timeout=300):
    """Return the folder holding the site's files, fetching the pinned packages if
    needed; None, with the reason said, if not possible."""
    if _is_complete(cache):
        return cache
    npm = shutil.which("npm")
    if npm is None:
        say(
            "npm is not installed, so require.js and the widget manager cannot be "
            "fetched"
        )
        return None
    cache.parent.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        NPM_CONFIG_UPDATE_NOTIFIER="false",
        NPM_CONFIG_FUND="false",
        NPM_CONFIG_AUDIT="false",
    )
    with tempfile.TemporaryDirectory(
        dir=cache.parent, prefix=".offline_assets-"
    ) as tmp:
        specs = [f"{name}@{version}" for name, (version, _) in PINNED.items()]
        say(f"fetching {' '.join(specs)} from the npm registry")
        try:
            result = subprocess.run(
                [npm, "pack", "--json", *specs],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            say(f"`npm pack` did not run: {error}")
            return None
        if result.returncode != 0:
            say(
                f"`npm pack` failed (exit {result.returncode}): "
                f"{result.stderr.strip()[-500:]}"
            )
            return None
        try:
            packed = {
                entry["name"]: Path(tmp) / entry["filename"]
                for entry in json.loads(result.stdout)
            }
        except (ValueError, KeyError, TypeError):
            packed = {}
        if set(packed) != set(PINNED):
            say(
                "`npm pack --json` printed something unexpected: "
                f"{result.stdout.strip()[:500]}"
            )
            return None
        for name, tarball in packed.items():
            if _sha512(tarball) != PINNED[name][1]:
                say(
                    f"{tarball.name} does not match its pinned sha512: refusing to use "
                    "it"
                )
                return None
        staging = Path(tmp) / "assets"
        staging.mkdir()
        for served, (package, member) in FILES.items():
            with tarfile.open(packed[package]) as tar:
                (staging / served).write_bytes(tar.extractfile(member).read())
        package, folder, suffixes = FONTS
        with tarfile.open(packed[package]) as tar:
            for member in tar.getmembers():
                name = member.name[len(folder) :]
                if (
                    member.name.startswith(folder)
                    and "/" not in name
                    and name.endswith(suffixes)
                ):
                    (staging / name).write_bytes(tar.extractfile(member).read())
        (staging / "widgets-paths.js").write_text(PATHS_JS)
        (staging / "pinned.json").write_text(
            json.dumps({k: v[0] for k, v in PINNED.items()})
        )
        shutil.rmtree(cache, ignore_errors=True)
        try:
            staging.rename(cache)
        except OSError:  # another build finished the same fetch first
            pass
    if not _is_complete(cache):
        say(f"could not complete {cache}")
        return None
    say(f"stored in {cache.relative_to(ROOT)}")
    return cache


# --- Sphinx extension
# ---------------------------------------------------------------------------------


def _configure(app, config):
    folder = fetch(CACHE)
    app.offline_assets = folder
    if folder is None:
        say(
            "WARNING: widget pages will load require.js and "
            "@jupyter-widgets/html-manager from CDNs, "
            "so widgets will not render without a network"
        )
        return
    config.nb_ipywidgets_js = {f"{SITE_FOLDER}/{name}": {} for name in SCRIPTS}
    say(
        "widget pages load require.js and the widget manager from "
        f"_static/{SITE_FOLDER}/"
    )


def _check_mathjax(app):
    if "://" in app.config.mathjax_path:
        say(
            f"WARNING: math is typeset by MathJax from {app.config.mathjax_path}, "
            "which needs a network"
        )


def _copy(app, exception):
    if (
        exception is None
        and getattr(app, "offline_assets", None)
        and app.builder.format == "html"
    ):
        target = Path(app.outdir) / "_static" / SITE_FOLDER
        target.mkdir(parents=True, exist_ok=True)
        for path in app.offline_assets.iterdir():
            if path.name != "pinned.json":
                shutil.copy2(path, target / path.name)


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("builder-inited", _check_mathjax)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.exit(0 if fetch() else 1)
