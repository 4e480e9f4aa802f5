"""lseq for PyTorch users: build, train, export, import and check lseq models.

    import lseq
    model = lseq.LseqModel(config)          # a torch.nn.Module, format tensor names
    lseq.save(model, "out/my-model", dtype="F32")
    model = lseq.load("out/my-model")

See python/README.md.
"""

from . import convert
from .config import ModelFormatError, parse_config
from .convert import from_minimal_lru, from_torch_rnn
from .io import load, read_safetensors, save, write_safetensors
from .model import LseqModel
from .scan import lru_scan, lru_step_loop

__version__ = "0.1.0"
__all__ = ["LseqModel", "ModelFormatError", "parse_config", "save", "load", "convert",
           "from_torch_rnn", "from_minimal_lru",
           "read_safetensors", "write_safetensors", "lru_scan", "lru_step_loop"]
