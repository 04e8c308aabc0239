#pragma once
#include <zlib.h>

// deflateInit2 is a macro; this passes the library's version and struct size as it does.
static inline int depot_deflate_init2(z_streamp stream, int level, int windowBits) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, 9, Z_DEFAULT_STRATEGY);
}
