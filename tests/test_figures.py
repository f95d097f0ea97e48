"""The figures command makes every figure from quantlab."""

from PIL import Image

from quantlab import figures


def test_every_figure_is_made(tmp_path):
    written = figures.make_all(tmp_path)
    assert sorted(p.name for p in written) == sorted(figures.FIGURES)
    for path in written:
        width, height = Image.open(path).size
        assert width > 300 and height > 150
