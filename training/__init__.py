"""Training package for vqcodec's VQ-VAEs (torch). The runtime package `vqcodec` never imports this."""
