"""Attribution: protocol splits, classifier training and evaluation (Yu 2019, DNA-Det protocols)."""
