"""The .vqc container: header, CRC-checked sections, limits, atomic writes and bit packing; it knows no payload."""
