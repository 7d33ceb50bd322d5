"""The C kernels the compiler pastes into lenet5.c (installed as lenet_edge.kernels): ref/ (plain
loops, the specification, every kernel) and opt/ (faster versions of some of them under the same
names; the opt set takes ref/ for the rest), plus the shared le_common.h and le_requant.h.
See docs/compiler.md."""
