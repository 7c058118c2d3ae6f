#ifndef VTAG_CFFMPEG_SHIM_H
#define VTAG_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* Macros Swift cannot import, as inline functions. */
static inline int cff_averror(int e) { return AVERROR(e); }
static inline int cff_averror_eof(void) { return AVERROR_EOF; }
static inline int cff_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int64_t cff_nopts(void) { return AV_NOPTS_VALUE; }
/* av_err2str is a compound-literal macro: write into a caller-owned buffer instead. */
static inline void cff_err2str(int e, char *buf, size_t n) { av_strerror(e, buf, n); }
/* FFmpeg 5.1 (lavu 57) has key_frame; FFmpeg >= 6.1 has AV_FRAME_FLAG_KEY. */
static inline int cff_frame_is_key(const AVFrame *f) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 29, 100)
  return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
  return f->key_frame;
#endif
}
static inline void cff_set_log_quiet(void) { av_log_set_level(AV_LOG_QUIET); }
static inline void cff_set_log_error(void) { av_log_set_level(AV_LOG_ERROR); }
#endif
