"""Data: LMDB image stores, image sources (embedded demo, folders, CelebA, LSUN) and dataset preparation."""
