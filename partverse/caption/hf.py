"""The transformers backend: `AutoModelForImageTextToText` + `AutoProcessor` with the model's own
chat template, batched, on CUDA when present. Default model: Qwen/Qwen2.5-VL-7B-Instruct (any
image-text-to-text model with a chat template works, from a local path or a hub id)."""
from __future__ import annotations

import io

from partverse.caption.backends import DEFAULT_MODEL, CaptionBackend, CaptionRequest, Reply
from partverse.extras import require
from partverse.model_source import model_source


class TransformersBackend(CaptionBackend):
    name = "transformers"

    def setup(self) -> None:
        torch = require("torch", "caption")
        transformers = require("transformers", "caption")
        cfg = self.config
        device = cfg.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = cfg.dtype
        if dtype == "auto":
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        else:
            dtype = getattr(torch, dtype)
        self.device = device
        source = model_source(cfg.model, "CaptionConfig.model", DEFAULT_MODEL)
        self.processor = transformers.AutoProcessor.from_pretrained(source)
        self.processor.tokenizer.padding_side = "left"  # decoder-only batched generation
        self.model = transformers.AutoModelForImageTextToText.from_pretrained(source, dtype=dtype).to(device).eval()

    def prepare(self, requests: list[CaptionRequest]):
        """Processor inputs (a BatchFeature on the model's device) for one batch."""
        from PIL import Image

        images = [Image.open(io.BytesIO(r.image_png)).convert("RGB") for r in requests]
        texts = [
            self.processor.apply_chat_template(
                [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": r.prompt}]}],
                add_generation_prompt=True,
                tokenize=False,
            )
            for r in requests
        ]
        return self.processor(text=texts, images=images, return_tensors="pt", padding=True).to(self.device)

    def generate_batch(self, inputs, retry: bool = False) -> list[str]:
        """Run `model.generate` on prepared inputs; return the decoded new text per row."""
        import torch

        kwargs = {"max_new_tokens": self.config.max_new_tokens}
        if retry:  # a second greedy pass would repeat the first answer
            kwargs.update(do_sample=True, temperature=self.config.retry_temperature)
        else:
            kwargs.update(do_sample=False)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **kwargs)
        new = out[:, inputs["input_ids"].shape[1]:]
        return self.processor.batch_decode(new, skip_special_tokens=True)

    def generate(self, requests: list[CaptionRequest], retry: bool = False) -> list[Reply]:
        replies: list[Reply] = []
        bs = self.config.batch_size
        for s in range(0, len(requests), bs):
            texts = self.generate_batch(self.prepare(requests[s : s + bs]), retry)
            replies.extend(Reply(t) for t in texts)
        return replies
