/* Host driver for the generated lenet5_*.c (static, not generated per model).
 *
 *   driver [--trace FILE]   stdin: N raw images of LENET5_INPUT_SIZE uint8 bytes each
 *                           stdout: per image LENET5_NUM_SCORES int32 scores then the int32 label,
 *                           native byte order
 *   driver --selftest       prints lenet5_selftest()'s result; exit status 0 iff it is 0
 *
 * With -DLENET5_TRACE and --trace FILE, FILE gets a header then one record per traced layer call:
 *   header: "LE5T", uint32 LENET5_NUM_LAYERS, then per layer: uint32 size (int8 codes traced, 0 if
 *           none), uint32 name length, the ONNX tensor name bytes
 *   record: uint32 layer, uint32 n, n int8 codes (NCHW)
 * (lenet_edge.check.hostbuild.read_trace parses it.) */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lenet5.h"

#if defined(LENET5_TRACE)
static FILE *trace_file;

static void put_u32(FILE *f, uint32_t v)
{
    fwrite(&v, sizeof v, 1, f);
}

void lenet5_trace(int layer, const char *onnx_tensor_name, const int8_t *data, size_t n)
{
    (void)onnx_tensor_name;
    if (trace_file) {
        put_u32(trace_file, (uint32_t)layer);
        put_u32(trace_file, (uint32_t)n);
        fwrite(data, 1, n, trace_file);
    }
}
#endif

#if defined(LENET5_PROFILE)
void lenet5_profile_mark(int layer)
{
    (void)layer;
}
#endif

int main(int argc, char **argv)
{
    uint8_t image[LENET5_INPUT_SIZE];
    int32_t out[LENET5_NUM_SCORES + 1];
    int i;
    for (i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--selftest") == 0) {
            int r = lenet5_selftest();
            printf("selftest %d\n", r);
            return r == 0 ? 0 : 1;
        }
        if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
#if defined(LENET5_TRACE)
            int l;
            trace_file = fopen(argv[++i], "wb");
            if (!trace_file) {
                fprintf(stderr, "driver: cannot open %s\n", argv[i]);
                return 2;
            }
            fwrite("LE5T", 1, 4, trace_file);
            put_u32(trace_file, LENET5_NUM_LAYERS);
            for (l = 0; l < LENET5_NUM_LAYERS; ++l) {
                put_u32(trace_file, lenet5_layer_sizes[l]);
                put_u32(trace_file, (uint32_t)strlen(lenet5_layer_tensors[l]));
                fwrite(lenet5_layer_tensors[l], 1, strlen(lenet5_layer_tensors[l]), trace_file);
            }
#else
            fprintf(stderr, "driver: --trace needs a build with -DLENET5_TRACE\n");
            return 2;
#endif
        }
    }
    while (fread(image, 1, sizeof image, stdin) == sizeof image) {
        out[LENET5_NUM_SCORES] = lenet5_predict(image, out);
        if (fwrite(out, sizeof out, 1, stdout) != 1) {
            return 3;
        }
    }
#if defined(LENET5_TRACE)
    if (trace_file && fclose(trace_file) != 0) {
        return 3;
    }
#endif
    return 0;
}
