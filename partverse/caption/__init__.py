"""Part and object captions: prompts, strict reply checks, backends (transformers, OpenAI-compatible
HTTP, metadata fallback) and the loop that retries once and flags what still fails."""
