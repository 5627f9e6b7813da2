"""The papers' reported numbers that our tables put beside ours (source: ../shared/PAPERS.md).

Each entry says where the number comes from; values recalled from a PDF and not verified against it are
marked ``verified: False`` and shown as "(unverified)" in the tables, as PAPERS.md asks. Values are kept as
the text PAPERS.md gives ("~28.0" is an approximate recollection), never rounded or completed here.
"""

from __future__ import annotations

NOT_RETRIEVABLE = "n/a (not retrievable offline)"

# how the papers name our methods (the registry keys of ganprint.methods)
METHOD_NAMES = {
    "knn": "kNN on pixels",
    "eigenface": "Eigenface",
    "prnu": "PRNU (Marra et al.)",
    "postpool": "Yu et al. 2019 postpool classifier",
    "visnet": "Yu et al. 2019 visNet",
    "gandct": "Frank et al. 2020 DCT-CNN",
    "classmodel": "class-modelling (Generator_Attribution)",
    "dnadet": "DNA-Det",
}

# Yu et al. 2019 Tables 1 and 2 (PAPERS.md §1.7, every value [MEMORY]): per paper method, per dataset column.
# The DNA-Det multiple-cross table (PAPERS.md §4.5) and Generator_Attribution (§3.5): no numbers offline.
ATTRIBUTION = {
    "yu2019_table1": {
        "reference": "Yu et al. 2019, Table 1: real + ProGAN/SNGAN/CramerGAN/MMDGAN, 128 px (PAPERS.md §1.7)",
        "datasets": ("CelebA", "LSUN"),
        "methods": {
            "knn": {"CelebA": "~28.0", "LSUN": "~36.3"},
            "eigenface": {"CelebA": "~53.3", "LSUN": "n/a (faces only)"},
            "prnu": {"CelebA": "~86.6", "LSUN": "~67.8"},
            "postpool": {"CelebA": "99.43", "LSUN": "98.58"},
            "visnet": {"CelebA": "high 90s, value not recalled", "LSUN": "high 90s, value not recalled"},
        },
        "verified": False,
    },
    "yu2019_table2": {
        "reference": "Yu et al. 2019, Table 2: real + 10 ProGAN training seeds, 128 px (PAPERS.md §1.7)",
        "datasets": ("CelebA", "LSUN"),
        "methods": {
            "knn": {"CelebA": "~11", "LSUN": "~11"},
            "prnu": {"CelebA": "~92", "LSUN": "~71"},
            "postpool": {"CelebA": "99.5", "LSUN": "97.7"},
        },
        "verified": False,
    },
    **{
        f"dnadet_{setting}": {
            "reference": f"DNA-Det (AAAI 2022), multiple-cross table, {setting.replace('_', '-')}: values not "
            "retrievable offline (PAPERS.md §4.5)",
            "datasets": (),
            "methods": {},
            "verified": False,
        }
        for setting in ("closed", "cross_seed", "cross_loss", "cross_finetune", "cross_dataset")
    },
    "generator_attribution": {
        "reference": "Transferable class-modelling (arXiv 2203.09777, quarxilon/Generator_Attribution): headline "
        "numbers not retrievable offline (PAPERS.md §3.5)",
        "datasets": (),
        "methods": {},
        "verified": False,
    },
}

# qualitative claims only, no number is quoted for them ([MEMORY] ones say "(unverified)")
QUALITATIVE = {
    "dnadet": "closed-set accuracy about 99%+ for all methods; PRNU, Yu et al. 2019 and Frank et al. collapse on "
    "cross-seed, cross-loss and cross-dataset; DNA-Det stays high, cross-dataset the hardest (unverified, "
    "PAPERS.md §4.5)",
    "robustness": "attacks without immunization drop accuracy sharply; immunization brings most attacks back to the "
    "90s, except relighting (unverified, Yu et al. 2019, PAPERS.md §1.7)",
    "generator_attribution": "primary-module detection transfers; binary class-modelling attribution is feasible "
    "but weaker than multiclass (README, PAPERS.md §3.5)",
}
# an exact number from a different benchmark, for orientation only (PAPERS.md §7b, POSE's demo subset)
POSE_OPEN_SET_AUROC = {"unseen seed": 73.74, "unseen architecture": 87.19, "unseen dataset": 89.91}

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
