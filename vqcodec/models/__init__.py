"""Model bundles: loading and sha256 verification (bundle), onnxruntime sessions (runtime); the bundles themselves."""
