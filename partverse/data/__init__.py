"""Release shards: schemas, writer, reader, manifests, pull, and the PyTorch dataset."""
