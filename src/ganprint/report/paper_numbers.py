"""The papers' reported numbers that our tables put beside ours (source: ../shared/PAPERS.md).

Each entry says where the number comes from; values recalled from a PDF and not verified against it are
marked ``verified: False`` and shown as "(unverified)" in the tables, as PAPERS.md asks.
"""

from __future__ import annotations

ATTRIBUTION = {
    "yu2019_table1": {
        "reference": "Yu et al. 2019, Table 1: real + ProGAN/SNGAN/CramerGAN/MMDGAN, postpool classifier, 128 px",
        "accuracy": {"CelebA": 99.43, "LSUN": 98.58},
        "verified": False,
    },
    "yu2019_table2": {
        "reference": "Yu et al. 2019, Table 2: real + 10 ProGAN training seeds, postpool classifier, 128 px",
        "accuracy": {"CelebA": 99.5, "LSUN": 97.7},
        "verified": False,
    },
    "dnadet_cross_seed": {
        "reference": "DNA-Det (AAAI 2022), multiple-cross table, cross-seed: values not retrievable offline",
        "accuracy": {},
        "verified": False,
    },
}

FINGERPRINT_TRANSFER = {
    "reference": "Yu et al. 2021 README (exact): bit accuracy of GANs trained on fingerprinted data, 0.93-0.99 "
    "over 12 generators; ProGAN CelebA 128 px: 0.98, StyleGAN2 CelebA 128 px: 0.99",
    "fingerprinted": 0.98,
    "clean": 0.5,  # chance: a clean GAN carries no fingerprint (expected value, not a reported number)
    "embedded_training_images": 1.0,  # "about 1.0" [MEMORY], unverified
}

# Yu et al. 2021 README, exact (PAPERS.md §2.5): generators trained on fingerprinted data → (data, FID, bit acc)
FINGERPRINT_README = {
    "ProGAN": [
        ("CelebA 128 (150k)", 14.38, 0.98),
        ("LSUN Bedroom 128 (50k)", 32.58, 0.93),
        ("LSUN Cat 256", 48.97, 0.98),
    ],
    "StyleGAN": [
        ("CelebA 128 (150k)", 9.72, 0.99),
        ("LSUN Bedroom 128 (50k)", 25.71, 0.98),
        ("LSUN Cat 256", 34.01, 0.99),
    ],
    "StyleGAN2": [
        ("CelebA 128 (150k)", 6.23, 0.99),
        ("LSUN Bedroom 128 (50k)", 14.71, 0.99),
        ("LSUN Cat 256", 32.60, 0.99),
    ],
    "BigGAN": [("CIFAR-10 32", 6.80, 0.99)],
    "CUT": [("horse2zebra 256", 23.43, 0.99), ("AFHQ cat2dog 256", 56.09, 0.99)],
}
# our arch → the README's generator of the same family (None: the README has no such generator)
FINGERPRINT_README_ARCH = {"progan": "ProGAN", "stylegan2": "StyleGAN2"}
