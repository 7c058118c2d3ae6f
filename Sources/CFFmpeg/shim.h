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
static inline int cff_averror_exit(void) { return AVERROR_EXIT; }
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

/* AVFrame's fixed-size arrays (data[8], linesize[8]) are awkward tuples in Swift. */
static inline uint8_t *cff_frame_data(const AVFrame *f, int plane) { return f->data[plane]; }
static inline int cff_frame_linesize(const AVFrame *f, int plane) { return f->linesize[plane]; }

/* Tells swscale the frame's colour matrix (BT.601 when unspecified) and range (limited unless the frame or its
 * yuvj* pixel format says full), converting to full-range RGB. */
static inline void cff_sws_set_frame_colorspace(struct SwsContext *sws, const AVFrame *f) {
  int cs = (int)f->colorspace;
  int src_range = f->color_range == AVCOL_RANGE_JPEG;
  if (cs <= 0 || cs > 10 || cs == 2 || cs == 3) cs = SWS_CS_DEFAULT;
  switch (f->format) {
  case AV_PIX_FMT_YUVJ420P: case AV_PIX_FMT_YUVJ422P: case AV_PIX_FMT_YUVJ444P:
  case AV_PIX_FMT_YUVJ440P: case AV_PIX_FMT_YUVJ411P:
    src_range = 1;
    break;
  default:
    break;
  }
  sws_setColorspaceDetails(sws, sws_getCoefficients(cs), src_range, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0,
                           1 << 16, 1 << 16);
}

/* The stream's display-matrix rotation in degrees counter-clockwise (av_display_rotation_get), or 0 without one. */
static inline double cff_stream_display_rotation(const AVStream *st) {
  const uint8_t *m = NULL;
#if LIBAVFORMAT_VERSION_INT >= AV_VERSION_INT(60, 15, 100)
  const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
                                                       st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
  if (sd && sd->size >= 36) m = sd->data;
#else
  size_t size = 0;
  m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (size < 36) m = NULL;
#endif
  if (!m) return 0;
  double r = av_display_rotation_get((const int32_t *)m);
  return r != r ? 0 : r; /* NaN for a degenerate matrix */
}

/* True when the decoder flagged the frame as damaged (concealed errors, missing references, corrupt flag). */
static inline int cff_frame_is_damaged(const AVFrame *f) {
  return f->decode_error_flags != 0 || (f->flags & AV_FRAME_FLAG_CORRUPT) != 0;
}

/* Converts a decoded frame of any pixel format to packed RGB24 of the same size with swscale (accurate rounding,
 * full-resolution chroma), honouring the frame's colour matrix and range. dst must hold height rows of dst_stride bytes.
 * Returns 0 or a negative AVERROR. */
static inline int cff_frame_to_rgb24(const AVFrame *f, uint8_t *dst, int dst_stride) {
  struct SwsContext *sws;
  int h;
  uint8_t *dsts[4] = {dst, NULL, NULL, NULL};
  int strides[4] = {dst_stride, 0, 0, 0};
  if (f->width <= 0 || f->height <= 0) return AVERROR(EINVAL);
  sws = sws_getContext(f->width, f->height, (enum AVPixelFormat)f->format, f->width, f->height, AV_PIX_FMT_RGB24,
                       SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP,
                       NULL, NULL, NULL);
  if (!sws) return AVERROR(ENOSYS);
  cff_sws_set_frame_colorspace(sws, f);
  h = sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dsts, strides);
  sws_freeContext(sws);
  return h == f->height ? 0 : AVERROR(EINVAL);
}
#endif
