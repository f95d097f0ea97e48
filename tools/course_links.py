"""Print the links a teacher shares (Binder, JupyterHub via nbgitpuller, JupyterLite on GitHub Pages), all built from
the ONE repository URL in pyproject.toml ([project.urls] Repository); tests/test_docs.py checks the README and the
teacher's guide use the same.

    python tools/course_links.py [--hub https://hub.example.edu] [--branch main]
"""

import argparse
import tomllib
from pathlib import Path
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parent.parent
START = "notebooks/00_start_here.ipynb"


def repository():
    """The course's repository URL, e.g. https://github.com/quantlab/quantlab (pyproject's [project.urls])."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"].rstrip("/")


def owner_and_name(url):
    parts = urlparse(url).path.strip("/").split("/")
    if urlparse(url).netloc != "github.com" or len(parts) != 2:
        raise ValueError(f"repository={url!r} should be https://github.com/<owner>/<name>")
    return parts[0], parts[1]


def binder(url, branch="main"):
    owner, name = owner_and_name(url)
    return f"https://mybinder.org/v2/gh/{owner}/{name}/{branch}?labpath={quote(START, safe='')}"


def nbgitpuller(url, hub, branch="main"):
    """nbgitpuller's link: the hub clones (or updates) the repository into the user's home, then opens notebook 00."""
    _, name = owner_and_name(url)
    urlpath = f"lab/tree/{name}/{START}"
    hub = hub.rstrip("/")
    return (
        f"{hub}/hub/user-redirect/git-pull?repo={quote(url, safe='')}&urlpath={quote(urlpath, safe='')}&branch={branch}"
    )


def jupyterlite(url):
    """Where `make lite`'s site lands when published with GitHub Pages (the notebooks sit at the site's root)."""
    owner, name = owner_and_name(url)
    return f"https://{owner}.github.io/{name}/lab/index.html?path=00_start_here.ipynb"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", default="https://<your-hub>", help="your JupyterHub's address")
    parser.add_argument("--branch", default="main")
    args = parser.parse_args(argv)
    url = repository()
    print(f"repository   {url}")
    print(f"Binder       {binder(url, args.branch)}")
    print(f"JupyterHub   {nbgitpuller(url, args.hub, args.branch)}")
    print(f"JupyterLite  {jupyterlite(url)}")


if __name__ == "__main__":
    main()
