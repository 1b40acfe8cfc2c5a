"""The build refuses to make a package without the dashboard's vendored libraries.

They come from npm (`make assets`, which `make dist` runs first) and are not in git; a wheel
built without them would serve 404 for htmx, Chart.js and Swagger UI. Everything else about
the package is declared in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

VENDOR = Path(__file__).parent / "src" / "tlsscope" / "web" / "static" / "vendor"
# What the pages load (web/templates/base.html, the /docs page in web/app.py), with licences.
ASSETS = ("htmx.min.js", "chart.umd.min.js", "swagger-ui-bundle.js", "swagger-ui.css",
          "htmx.LICENSE", "chart.js.LICENSE.md", "swagger-ui.LICENSE")


def _require_assets() -> None:
    missing = [name for name in ASSETS if not (VENDOR / name).is_file()]
    if missing:
        raise SystemExit(f"error: {VENDOR} lacks {', '.join(missing)}: run `make assets` "
                         "(npm) before building the package")


class BuildWithAssets(build_py):
    def run(self) -> None:
        _require_assets()
        super().run()


class SdistWithAssets(sdist):
    def run(self) -> None:
        _require_assets()
        super().run()


setup(cmdclass={"build_py": BuildWithAssets, "sdist": SdistWithAssets})
