"""Caption conditioning: a frozen transformers text encoder (a CLIP text model, a T5 encoder, a BERT,
...) loaded with `from_pretrained` from a local path or a hub id; captions are embedded once per
distinct string and cached.

Per object the DiT sees one caption per part slot (the part's brief caption) and the object's caption
in the global slot; a missing caption is the empty string (the encoder's special tokens only).
Features: (N, L, T) float32 last hidden states for L = `max_tokens`, and a key mask (N, L) bool
(True = a real token; padding is masked out of the cross-attention).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from partverse.errors import ConfigError
from partverse.extras import require
from partverse.model_source import model_source


def check_source(name: str, field: str = "dit.text_encoder") -> str:
    """The source `from_pretrained` gets (`model_source`): an existing local folder or a hub id."""
    return model_source(name, field, "openai/clip-vit-base-patch32", also="; or '' for no captions")


class TextEncoder:
    """Frozen tokenizer + encoder. `embed(strings)` -> (features (N, L, T) float32, mask (N, L) bool)."""

    def __init__(self, name: str, max_tokens: int = 32, field: str = "dit.text_encoder"):
        transformers = require("transformers", "caption")
        import torch

        path = check_source(name, field)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(path)
            model = transformers.AutoModel.from_pretrained(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{field}={name!r}: cannot load a tokenizer and text model: {exc}") from None
        if getattr(model.config, "is_encoder_decoder", False):
            model = model.get_encoder()  # T5 / BART: the encoder alone
        self.model = model.eval().requires_grad_(False)
        self.name, self.max_tokens = name, max_tokens
        self.dim = int(getattr(model.config, "hidden_size", 0) or getattr(model.config, "d_model"))
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._torch = torch

    def embed(self, strings: list[str], batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Strings (N,) -> features (N, L, T), mask (N, L); each distinct string is encoded once."""
        todo = sorted({s for s in strings if s not in self._cache})
        for s in range(0, len(todo), batch):
            chunk = todo[s:s + batch]
            enc = self.tokenizer(chunk, padding="max_length", truncation=True, max_length=self.max_tokens,
                                 return_tensors="pt")
            enc.pop("token_type_ids", None)
            with self._torch.no_grad():
                hidden = self.model(**enc).last_hidden_state.float().numpy()
            mask = enc["attention_mask"].numpy().astype(bool)
            for text, h, m in zip(chunk, hidden, mask):
                self._cache[text] = (h, m)
        if not strings:
            return np.zeros((0, self.max_tokens, self.dim), np.float32), np.zeros((0, self.max_tokens), bool)
        feats, masks = zip(*(self._cache[s] for s in strings))
        return np.stack(feats).astype(np.float32), np.stack(masks)


def slot_captions(part_captions: list[str], object_caption: str, slots: int, global_branch: bool) -> list[str]:
    """Captions of the DiT's slots for one object: parts first, '' for padding, the object's last."""
    out = [str(c or "") for c in part_captions][: slots - (1 if global_branch else 0)]
    out += [""] * (slots - len(out))
    if global_branch:
        out[-1] = object_caption or ""
    return out


def read_captions(path: str | Path) -> dict:
    """captions.json for `partverse sample`: a list of part captions, or
    {"parts": [...], "object": "..."} -> {"parts": list[str], "object": str}."""
    from partverse.errors import PartverseError
    from partverse.fsutil import read_json

    data = read_json(path, "captions")
    if isinstance(data, list):
        data = {"parts": data}
    if not isinstance(data, dict) or not isinstance(data.get("parts", []), list) \
            or not all(isinstance(c, str) for c in data.get("parts", [])) or not isinstance(data.get("object", ""), str):
        raise PartverseError(f"{path}: expected a list of part captions or "
                             '{"parts": ["...", ...], "object": "..."} with strings')
    return {"parts": list(data.get("parts", [])), "object": data.get("object", "")}
