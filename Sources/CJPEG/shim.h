#ifndef VTAG_CJPEG_SHIM_H
#define VTAG_CJPEG_SHIM_H
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

/*
 * A complete in-memory JPEG decode that never lets libjpeg call exit(): errors longjmp back here and come out as a
 * non-zero status with libjpeg's message. All setjmp/longjmp stays inside this C function (never across Swift frames).
 *
 * Decoding uses libjpeg-turbo's defaults (ISLOW IDCT, fancy upsampling, no scaling). Output colour space:
 *   1 component  -> JCS_GRAYSCALE (1 byte per pixel)
 *   3 components -> JCS_RGB       (3 bytes per pixel)
 *   4 components -> JCS_CMYK      (4 bytes per pixel; YCCK is converted to CMYK by libjpeg, values as stored)
 */

#define VTAG_JPEG_OK 0          /* success */
#define VTAG_JPEG_ERROR 1       /* libjpeg error; message filled */
#define VTAG_JPEG_TRUNCATED 2   /* data ended before the image was complete */
#define VTAG_JPEG_UNSUPPORTED 3 /* component count not handled; message filled */
#define VTAG_JPEG_TOO_LARGE 4   /* more pixels than max_pixels */
#define VTAG_JPEG_NO_MEMORY 5

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  int truncated;
  char message[JMSG_LENGTH_MAX];
} vtag_jpeg_error_mgr;

static void vtag_jpeg_error_exit(j_common_ptr cinfo) {
  vtag_jpeg_error_mgr *err = (vtag_jpeg_error_mgr *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

/* Warnings and trace messages: never printed. A premature end of data is remembered (Pillow refuses truncated files);
 * other warnings (e.g. extraneous bytes) are ignored, as Pillow ignores them. */
static void vtag_jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
  vtag_jpeg_error_mgr *err = (vtag_jpeg_error_mgr *)cinfo->err;
  if (msg_level < 0) {
    err->pub.num_warnings++;
    if (err->pub.msg_code == JWRN_JPEG_EOF) err->truncated = 1;
  }
}

static void vtag_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

typedef struct {
  unsigned char *pixels;  /* malloc'd, width*height*components bytes; caller frees with free() */
  int width;
  int height;
  int components;         /* 1, 3 or 4 bytes per output pixel */
  int jpeg_color_space;   /* J_COLOR_SPACE of the file as libjpeg understood it */
  int saw_adobe_marker;
  char message[JMSG_LENGTH_MAX];
} vtag_jpeg_result;

static inline int vtag_jpeg_decode(const unsigned char *data, unsigned long size, unsigned long long max_pixels,
                                   vtag_jpeg_result *result) {
  struct jpeg_decompress_struct cinfo;
  vtag_jpeg_error_mgr jerr;
  /* volatile: modified between setjmp and longjmp */
  unsigned char *volatile pixels = NULL;
  int status = VTAG_JPEG_OK;

  memset(result, 0, sizeof(*result));
  memset(&jerr, 0, sizeof(jerr));
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = vtag_jpeg_error_exit;
  jerr.pub.emit_message = vtag_jpeg_emit_message;
  jerr.pub.output_message = vtag_jpeg_output_message;

  if (setjmp(jerr.jump)) {
    strncpy(result->message, jerr.message, sizeof(result->message) - 1);
    jpeg_destroy_decompress(&cinfo);
    free(pixels);
    return jerr.truncated ? VTAG_JPEG_TRUNCATED : VTAG_JPEG_ERROR;
  }

  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, size);
  jpeg_read_header(&cinfo, TRUE);
  result->jpeg_color_space = (int)cinfo.jpeg_color_space;
  result->saw_adobe_marker = cinfo.saw_Adobe_marker;

  switch (cinfo.num_components) {
  case 1:
    cinfo.out_color_space = JCS_GRAYSCALE;
    break;
  case 3:
    cinfo.out_color_space = JCS_RGB;
    break;
  case 4:
    cinfo.out_color_space = JCS_CMYK;
    break;
  default:
    snprintf(result->message, sizeof(result->message), "unsupported JPEG with %d components", cinfo.num_components);
    jpeg_destroy_decompress(&cinfo);
    return VTAG_JPEG_UNSUPPORTED;
  }

  jpeg_start_decompress(&cinfo);
  {
    unsigned long long w = cinfo.output_width, h = cinfo.output_height;
    int comps = cinfo.output_components;
    if (w == 0 || h == 0 || w * h > max_pixels) {
      snprintf(result->message, sizeof(result->message), "image is %llux%llu pixels, more than the limit of %llu",
               w, h, max_pixels);
      jpeg_destroy_decompress(&cinfo);
      return VTAG_JPEG_TOO_LARGE;
    }
    size_t row_bytes = (size_t)w * (size_t)comps;
    pixels = (unsigned char *)malloc(row_bytes * (size_t)h);
    if (!pixels) {
      jpeg_destroy_decompress(&cinfo);
      return VTAG_JPEG_NO_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW row = pixels + (size_t)cinfo.output_scanline * row_bytes;
      jpeg_read_scanlines(&cinfo, &row, 1);
      if (jerr.truncated) break;
    }
    result->width = (int)w;
    result->height = (int)h;
    result->components = comps;
  }
  if (jerr.truncated) {
    status = VTAG_JPEG_TRUNCATED;
    snprintf(result->message, sizeof(result->message), "the JPEG data ends before the image is complete");
    jpeg_abort_decompress(&cinfo);
  } else {
    jpeg_finish_decompress(&cinfo);
    if (jerr.truncated) { /* EOF hit while reading trailing markers: pixels are complete, like Pillow accept it */ }
  }
  jpeg_destroy_decompress(&cinfo);
  if (status != VTAG_JPEG_OK) {
    free(pixels);
    return status;
  }
  result->pixels = pixels;
  return VTAG_JPEG_OK;
}
#endif
