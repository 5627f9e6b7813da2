"""ganprint: a reproducible pipeline for the GAN-fingerprint attribution literature."""

__version__ = "0.1.0"
