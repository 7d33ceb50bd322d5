"""Plain C kernels, installed as lenet_edge.kernels: ref/ (reference set) and opt/ (optimized set)."""
