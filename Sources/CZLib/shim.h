#include <zlib.h>

/// inflateInit2 is a macro; Swift calls this instead. windowBits 15 + 16 reads a gzip stream.
static inline int vz_inflate_init_gzip(z_stream *s) { return inflateInit2(s, 15 + 16); }
