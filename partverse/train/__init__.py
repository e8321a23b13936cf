"""The bundled part-diffusion trainer: a VecSet part VAE, a multi-part flow DiT with box conditions,
the training loop (single process, torchrun DDP, Ray Train), sampling with part editing, evaluation.

Heavy imports (torch, skimage, safetensors) happen inside the modules that need them; importing
`partverse.train` itself is cheap.
"""
