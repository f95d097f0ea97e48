"""Explorers: controls wired to quantlab's core and plots, nothing more (one module per topic).

Every explorer is reachable as quantlab.widgets.<Name>, which is also how its `call()` prints it.
"""

from .activations import OutlierThresholdExplorer, RotationExplorer, SmoothQuantExplorer
from .base import Explorer
from .calibration import AWQExplorer, GPTQExplorer, ImatrixExplorer
from .codebook import CodebookExplorer
from .formats import FormatExplorer
from .gguf import BlockExplorer
from .mixes import MixCalculator, MixExplorer
from .numbers import FloatExplorer, MemoryExplorer
from .quality import QualityExplorer
from .runtime import MiniLMFileExplorer
from .uniform import QuantizationExplorer

EXPLORERS = (
    MemoryExplorer,
    FloatExplorer,
    QuantizationExplorer,
    CodebookExplorer,
    BlockExplorer,
    MixExplorer,
    MixCalculator,
    QualityExplorer,
    GPTQExplorer,
    AWQExplorer,
    ImatrixExplorer,
    FormatExplorer,
    OutlierThresholdExplorer,
    SmoothQuantExplorer,
    RotationExplorer,
    MiniLMFileExplorer,
)

__all__ = ["EXPLORERS", "Explorer", *(cls.__name__ for cls in EXPLORERS)]
