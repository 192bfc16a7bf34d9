"""Images in and out: decoding with Pillow into float tensors, atomic writing, file discovery."""
from restora.io.atomic import atomic_path, write_text_atomic
from restora.io.image import Image, read_image, write_image, to_pil
from restora.io.files import IMAGE_SUFFIXES, list_images, plan_outputs

__all__ = ["atomic_path", "write_text_atomic", "Image", "read_image", "write_image", "to_pil", "IMAGE_SUFFIXES", "list_images", "plan_outputs"]
