"""Piano performances: the Performance, the note coder, its rate-distortion choice, and the MIDI codec."""
