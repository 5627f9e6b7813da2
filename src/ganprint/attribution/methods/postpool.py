"""Yu et al. 2019's attribution classifier (C_patch, mode postpool; PAPERS §1.4) as an attribution method.

Adam (0, 0.99) lr 1e-3, random horizontal flip, softmax cross-entropy on images in [-1, 1] (the shared
:class:`~ganprint.attribution.methods.base.NeuralMethod` recipe); ``input: dct`` feeds the grey log-DCT
instead (Frank et al. 2020's comparison, PAPERS §7.1 item 3).
"""

from __future__ import annotations

from ganprint.nets.postpool import YuPostpoolClassifier

from .base import NeuralMethod


class PostpoolMethod(NeuralMethod):
    def build_net(self):
        return YuPostpoolClassifier(
            resolution=self.resolution,
            num_classes=self.num_classes,
            fmap_base=self.hps.fmap_base,
            fmap_max=self.hps.fmap_max,
            in_channels=self.transform.channels,
        )
