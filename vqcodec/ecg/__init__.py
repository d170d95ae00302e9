"""ECG records: the Signal, its conditioning for the model, the VQ-VAE codec, its search and its rate control."""
