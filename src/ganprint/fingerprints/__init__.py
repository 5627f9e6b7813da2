"""Artificial fingerprints (Yu et al., ICCV 2021): autoencoder training, embedding, detection."""
