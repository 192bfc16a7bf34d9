"""Network architectures, registered by name (restora.nets.registry) so recipes and weight files
can name them.

``build_net(name, **kwargs)`` makes one; weight files store the name and kwargs in their
metadata (see restora.zoo), so a model is rebuilt without running any stored code. Every module
of this package is imported here, so a new architecture only needs ``@register_net`` in its module.
"""
from restora.nets.registry import NETS, build_net, register_net
from restora.registry import import_submodules

import_submodules(__name__)

__all__ = ["NETS", "register_net", "build_net"]
