"""Integer entropy models shared by the payloads: the adaptive rANS index coder and the error-bounded residual layer."""
