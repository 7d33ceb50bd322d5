"""The C kernels the compiler pastes into lenet5.c (installed as lenet_edge.kernels): ref/ (plain
loops, the specification) and opt/ (the same functions, fast), plus the shared le_common.h and
le_requant.h. See docs/kernels.md."""
