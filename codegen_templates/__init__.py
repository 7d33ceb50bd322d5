"""jinja2 templates and hand-written C kernels the compiler prints (installed as lenet_edge.codegen_templates)."""
