"""The teacher's guide and the glossary: links built from the one repository address, every notebook covered."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
GUIDE = (ROOT / "docs" / "teachers_guide.md").read_text()
GLOSSARY = (ROOT / "docs" / "glossary.md").read_text()
README = (ROOT / "README.md").read_text()
SPEC = importlib.util.spec_from_file_location("course_links", ROOT / "tools" / "course_links.py")
course_links = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(course_links)


def test_the_binder_badge_and_the_guide_use_pyprojects_repository():
    url = course_links.repository()
    assert course_links.binder(url) in README
    assert course_links.binder(url) in GUIDE
    assert course_links.nbgitpuller(url, "https://&lt;your-hub&gt;") in GUIDE
    assert f'Repository = "{url}"' in (ROOT / "pyproject.toml").read_text()


def test_no_other_repository_address_is_written_in_the_docs():
    url = course_links.repository()
    for name, text in (("README.md", README), ("docs/teachers_guide.md", GUIDE)):
        others = set(re.findall(r"github\.com/([\w.-]+/[\w.-]+)", text)) - {url.split("github.com/")[1]}
        assert not others, f"{name} names another repository: {others}"


def test_the_nbgitpuller_link_has_nbgitpullers_format():
    link = course_links.nbgitpuller("https://github.com/someone/course", "https://hub.example.edu/")
    assert link == (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fsomeone%2Fcourse"
        "&urlpath=lab%2Ftree%2Fcourse%2Fnotebooks%2F00_start_here.ipynb&branch=main"
    )


@pytest.mark.parametrize("url", ["https://gitlab.com/a/b", "https://github.com/a", "https://github.com/a/b/c"])
def test_a_repository_that_is_not_a_github_owner_and_name_is_refused(url):
    with pytest.raises(ValueError, match="repository="):
        course_links.binder(url)


def test_the_command_prints_every_link(capsys):
    course_links.main(["--hub", "https://hub.example.edu"])
    printed = capsys.readouterr().out
    assert all(word in printed for word in ("Binder", "JupyterHub", "JupyterLite", "https://hub.example.edu/hub/"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_guide_covers_every_notebook(path):
    number = path.name[:2]
    assert re.search(rf"^\*\*{number} · .+?\*\* — ", GUIDE, re.M), f"no misconception section for {number}"
    assert re.search(rf"^\| {number} [^|]+\| \d+ s \| \d+ min \|$", GUIDE, re.M), f"no time row for {number}"


def test_the_guide_mentions_only_notebooks_that_exist():
    existing = {p.name[:2] for p in NOTEBOOKS}
    sections = set(re.findall(r"^\*\*(\d{2}) · ", GUIDE, re.M)) | set(re.findall(r"^\| (\d{2}) ", GUIDE, re.M))
    assert sections <= existing, f"the guide has sections for notebooks that do not exist: {sections - existing}"


@pytest.mark.parametrize(
    "term",
    ["bpw", "GB vs GiB", "SQNR", "MSE", "scale", "zero point", "group / block", "super-block", "K-quant", "i-quant",
     "codebook", "imatrix", "perplexity", "KL divergence", "calibration", "GPTQ", "AWQ", "outlier feature"],
)  # fmt: skip
def test_the_glossary_defines(term):
    assert re.search(rf"^\*\*{re.escape(term)}\b[^*]*\*\* — \S", GLOSSARY, re.M), f"glossary: no entry for {term}"


def test_the_readme_links_the_guide_and_the_glossary():
    assert "docs/teachers_guide.md" in README and "docs/glossary.md" in README


def _time_rows(text):
    """{"03": ("11 s", "25 min"), ...} from a table whose rows end in '| run | study |'."""
    return {
        n: (run, study)
        for n, run, study in re.findall(r"^\| (\d{2}) [^|]+\|(?:[^|]+\|)? (\d+ s) \| (\d+ min) \|$", text, re.M)
    }


def test_00_gives_a_time_for_every_notebook_and_agrees_with_the_guide():
    import json

    cells = json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text())["cells"]
    rows = _time_rows("\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"))
    assert set(rows) == {p.name[:2] for p in NOTEBOOKS}, "00's learning path: one row per notebook that exists"
    assert rows == _time_rows(GUIDE)


def test_the_total_study_time_said_in_00_and_the_guide_is_the_tables_sum():
    text = "".join(
        "".join(c["source"]) for c in json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text())["cells"]
    )
    minutes = sum(int(m) for m in re.findall(r"\| (\d+) min \|$", text, re.M))
    words = {5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}
    hours = round(minutes / 60)
    assert f"about {words[hours]} hours of study" in text
    assert f"About {words[hours]} hours of study" in (ROOT / "docs" / "teachers_guide.md").read_text()
