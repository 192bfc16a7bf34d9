"""Forward operators: synthetic damage, deterministic given a seed.

Every function takes and returns float tensors (C, H, W) or (N, C, H, W) in [0, 1]
(noise may be left unclipped on request) and never modifies its input.
"""
from restora.degrade.noise import gaussian_noise, poisson_noise, poisson_gaussian, salt_and_pepper, noise_from_spec
from restora.degrade.blur import blur, gaussian_kernel, motion_kernel, disk_kernel, kernel_from_spec, camera_blur_kernel
from restora.degrade.resize import imresize
from restora.degrade.jpeg import jpeg, double_jpeg
from restora.degrade.masks import MASKS, make_mask, apply_mask, read_mask

__all__ = ["gaussian_noise", "poisson_noise", "poisson_gaussian", "salt_and_pepper", "noise_from_spec", "blur",
           "gaussian_kernel", "motion_kernel", "disk_kernel", "kernel_from_spec",
           "camera_blur_kernel", "imresize", "MASKS", "make_mask",
           "apply_mask", "read_mask", "jpeg", "double_jpeg"]
