"""The graph that goes into the exported file, and the trained model's own
answers it is checked against.

The graph takes 8-bit RGB images as (batch, size, size, 3) and does the float
conversion and the backbone's normalisation itself. Its Grad-CAM is in closed
form: in eval mode the head is GAP -> fc1 -> ReLU -> fc2, so the gradient of
logit c with respect to the pooled features is W1^T (relu_mask * W2[c]); each
position of the feature map A (h x w) gets 1/(h*w) of it, so the Grad-CAM
weights are alpha_c = W1^T (mask * W2[c]) / (h*w) and CAM_c = relu(sum_k
alpha_ck A_k). :func:`torch_reference` computes the same by autograd.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from torch import nn

from allgui.core.errors import AllguiError
from allgui.core.model.classifier import AllClassifier


class ExportGraph(nn.Module):
    """What goes into the ONNX file: uint8 NHWC images in; logits, probabilities
    and per-class Grad-CAM out."""

    def __init__(self, model: AllClassifier, input_size: int) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(model.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(model.std, dtype=torch.float32).view(1, 3, 1, 1))
        with torch.inference_mode():
            probe = model.forward_features(torch.zeros(1, 3, input_size, input_size))
        if probe.ndim != 4:
            raise AllguiError(
                f"The backbone {model.config.backbone} gives no spatial feature map, "
                "so allgui cannot draw heatmaps for it; choose a convolutional backbone.",
            )
        self.map_size = (int(probe.shape[2]), int(probe.shape[3]))
        self.n_classes = int(model.config.n_classes)

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        x = image.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        mean, std = cast(torch.Tensor, self.mean), cast(torch.Tensor, self.std)  # buffers
        return (x - mean) / std

    def forward(self, image: torch.Tensor):
        fmap = self.model.forward_features(self.normalise(image))  # N, K, h, w
        pooled = fmap.mean(dim=(2, 3))
        head = self.model.head
        pre = head.fc1(pooled)
        logits = head.fc2(torch.relu(pre))
        probabilities = torch.softmax(logits, dim=1)
        mask = (pre > 0).to(pre.dtype)  # N, hidden
        # d logit_c / d pooled = W1^T (mask * W2[c])  ->  N, classes, K
        grads = torch.matmul(head.fc2.weight.unsqueeze(0) * mask.unsqueeze(1), head.fc1.weight)
        h, w = self.map_size
        alpha = grads / float(h * w)
        cam = torch.matmul(alpha, fmap.flatten(2))  # N, classes, h*w
        cam = torch.relu(cam).reshape(-1, self.n_classes, h, w)
        return logits, probabilities, cam, pooled


def torch_reference(
    model: AllClassifier, images: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The trained model's own answers on uint8 NHWC ``images``: logits,
    probabilities, Grad-CAM per class by autograd (gradient of each logit
    with respect to the last feature map, averaged over positions), and the
    scale each CAM is summed at (max over positions of sum_k |alpha_k A_k|)."""
    from allgui.core.train.augment import model_input  # training's own preprocessing

    model.eval()
    x = model_input(np.ascontiguousarray(images), model.mean, model.std, "cpu")
    with torch.no_grad():
        fmap = model.forward_features(x)
    fmap = fmap.detach().requires_grad_(True)
    logits = model.forward_head(model.pool(fmap))
    cams, scales = [], []
    for c in range(logits.shape[1]):
        (grad,) = torch.autograd.grad(logits[:, c].sum(), fmap, retain_graph=True)
        alpha = grad.mean(dim=(2, 3), keepdim=True)  # N, K, 1, 1
        cams.append(torch.relu((alpha * fmap).sum(dim=1)))
        scales.append((alpha.abs() * fmap.abs()).sum(dim=1).amax(dim=(1, 2)))
    with torch.no_grad():
        probs = torch.softmax(logits, dim=1)
    return (
        logits.detach().numpy(),
        probs.numpy(),
        torch.stack(cams, dim=1).detach().numpy(),
        torch.stack(scales, dim=1).detach().numpy(),
    )
