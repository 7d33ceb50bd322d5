#include "le_semihost.h"

#include <stddef.h>

enum {
    SYS_OPEN = 0x01, SYS_WRITE = 0x05, SYS_READ = 0x06, SYS_FLEN = 0x0C,
    SYS_EXIT = 0x18, SYS_EXIT_EXTENDED = 0x20,
};
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUNTIME_ERROR 0x20023

static int sh_call(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* The length of a NUL-terminated path: a loop, not newlib's strlen (220 B of flash for one call;
 * the empty asm keeps gcc from recognising the loop and calling strlen anyway). */
static uint32_t path_length(const char *path) {
    uint32_t n = 0;
    while (path[n] != '\0') {
        __asm__("" : "+r"(n));
        ++n;
    }
    return n;
}

int le_sh_open(const char *path) {
    uint32_t args[3] = {(uint32_t)path, 1 /* "rb" */, path_length(path)};
    return sh_call(SYS_OPEN, args);
}

int le_sh_flen(int fd) {
    uint32_t args[1] = {(uint32_t)fd};
    return sh_call(SYS_FLEN, args);
}

int le_sh_read(int fd, void *buf, size_t n) {
    uint32_t args[3] = {(uint32_t)fd, (uint32_t)buf, (uint32_t)n};
    return (int)n - sh_call(SYS_READ, args);  /* SYS_READ returns the count NOT read */
}

void le_sh_write(const char *s, size_t n) {
    static int console = -1;
    if (console < 0) {  /* ":tt" opened for writing (mode 4, "w") is the host's stdout */
        uint32_t open_args[3] = {(uint32_t)":tt", 4, 3};
        console = sh_call(SYS_OPEN, open_args);
    }
    uint32_t args[3] = {(uint32_t)console, (uint32_t)s, (uint32_t)n};
    sh_call(SYS_WRITE, args);
}

void le_sh_exit(int code) {
    uint32_t args[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    sh_call(SYS_EXIT_EXTENDED, args);
    /* Hosts without SYS_EXIT_EXTENDED: plain SYS_EXIT can only say "ok" or "error". */
    sh_call(SYS_EXIT, (const void *)(code == 0 ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {}
}
