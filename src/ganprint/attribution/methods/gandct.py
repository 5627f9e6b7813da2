"""Frank et al. 2020's gandct-conv (PAPERS §3.2 baseline ``gdaconv``, §7.1 item 3): the simple CNN on the grey,
log-scaled, per-coefficient standardised DCT-II spectrum (``input: dct``, the paper's setting) or on pixels.

Training follows Frank's code: Adam lr 1e-3 (Keras defaults β = (0.9, 0.999)), softmax cross-entropy, no
augmentation (hflip off by default: a flip changes the sign of odd DCT coefficients, not their magnitude, but
the paper does not flip).
"""

from __future__ import annotations

from ganprint.nets.gandct import GanDCTConv

from .base import NeuralMethod


class GanDCTMethod(NeuralMethod):
    input = "dct"

    def build_net(self):
        return GanDCTConv(self.resolution, self.num_classes, in_channels=self.transform.channels)
