/* Host timing driver for benchmarks/host.py: runs lenet5_predict in-process on raw images.
 *
 * usage: host_timing IMAGES_FILE N REPEATS WARMUP
 *   IMAGES_FILE  N x 784 raw bytes (28x28 uint8, row-major, MNIST convention)
 *   REPEATS      passes over the N images inside the timed region (>= 1)
 *   WARMUP       1: one untimed pass first (caches, branch predictors); 0: none (callgrind counts)
 * prints: ns_per_image <mean over N*REPEATS calls> checksum <sum of labels and scores, so the
 * compiler cannot drop the calls>
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lenet5.h"

#define IMAGE_BYTES 784

static uint32_t pass(const uint8_t *images, long n)
{
    uint32_t checksum = 0;
    int32_t scores[10];
    long i;
    int k;
    for (i = 0; i < n; i++) {
        checksum += (uint32_t)lenet5_predict(images + (size_t)i * IMAGE_BYTES, scores);
        for (k = 0; k < 10; k++) checksum += (uint32_t)scores[k];
    }
    return checksum;
}

int main(int argc, char **argv)
{
    long n, repeats, r;
    int warmup;
    uint8_t *images;
    FILE *f;
    struct timespec t0, t1;
    uint32_t checksum = 0;
    double ns;

    if (argc != 5) {
        fprintf(stderr, "usage: %s IMAGES_FILE N REPEATS WARMUP\n", argv[0]);
        return 2;
    }
    n = atol(argv[2]);
    repeats = atol(argv[3]);
    warmup = atoi(argv[4]);
    if (n <= 0 || repeats <= 0) {
        fprintf(stderr, "N and REPEATS must be positive\n");
        return 2;
    }
    images = malloc((size_t)n * IMAGE_BYTES);
    f = fopen(argv[1], "rb");
    if (images == NULL || f == NULL || fread(images, IMAGE_BYTES, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read %ld images\n", argv[1], n);
        return 2;
    }
    fclose(f);
    if (warmup) checksum += pass(images, n);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (r = 0; r < repeats; r++) checksum += pass(images, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / ((double)n * (double)repeats);
    printf("ns_per_image %.1f checksum %lu\n", ns, (unsigned long)checksum);
    free(images);
    return 0;
}
