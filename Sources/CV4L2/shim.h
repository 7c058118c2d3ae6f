#ifndef VTAG_CV4L2_SHIM_H
#define VTAG_CV4L2_SHIM_H
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/videodev2.h>
#include <libv4l2.h>
/* ioctl request numbers and fourccs are macros Swift cannot import. */
static const unsigned long cv4l2_VIDIOC_QUERYCAP = VIDIOC_QUERYCAP;
static const unsigned long cv4l2_VIDIOC_ENUM_FMT = VIDIOC_ENUM_FMT;
static const unsigned long cv4l2_VIDIOC_G_FMT = VIDIOC_G_FMT;
static const unsigned long cv4l2_VIDIOC_S_FMT = VIDIOC_S_FMT;
static const unsigned long cv4l2_VIDIOC_REQBUFS = VIDIOC_REQBUFS;
static const unsigned long cv4l2_VIDIOC_QUERYBUF = VIDIOC_QUERYBUF;
static const unsigned long cv4l2_VIDIOC_QBUF = VIDIOC_QBUF;
static const unsigned long cv4l2_VIDIOC_DQBUF = VIDIOC_DQBUF;
static const unsigned long cv4l2_VIDIOC_STREAMON = VIDIOC_STREAMON;
static const unsigned long cv4l2_VIDIOC_STREAMOFF = VIDIOC_STREAMOFF;
static const unsigned long cv4l2_VIDIOC_S_PARM = VIDIOC_S_PARM;
static const unsigned long cv4l2_VIDIOC_G_PARM = VIDIOC_G_PARM;
static const unsigned long cv4l2_VIDIOC_ENUM_FRAMESIZES = VIDIOC_ENUM_FRAMESIZES;
static const unsigned long cv4l2_VIDIOC_ENUM_FRAMEINTERVALS = VIDIOC_ENUM_FRAMEINTERVALS;
static const uint32_t cv4l2_PIX_FMT_RGB24 = V4L2_PIX_FMT_RGB24;
static const uint32_t cv4l2_PIX_FMT_YUYV = V4L2_PIX_FMT_YUYV;
static const uint32_t cv4l2_PIX_FMT_MJPEG = V4L2_PIX_FMT_MJPEG;
static const uint32_t cv4l2_BUF_TYPE_VIDEO_CAPTURE = V4L2_BUF_TYPE_VIDEO_CAPTURE;
static const uint32_t cv4l2_MEMORY_MMAP = V4L2_MEMORY_MMAP;
static const uint32_t cv4l2_CAP_VIDEO_CAPTURE = V4L2_CAP_VIDEO_CAPTURE;
static const uint32_t cv4l2_CAP_STREAMING = V4L2_CAP_STREAMING;
static const uint32_t cv4l2_CAP_DEVICE_CAPS = V4L2_CAP_DEVICE_CAPS;
static const uint32_t cv4l2_FRMSIZE_TYPE_DISCRETE = V4L2_FRMSIZE_TYPE_DISCRETE;
static const uint32_t cv4l2_FIELD_ANY = V4L2_FIELD_ANY;
static const uint32_t cv4l2_CAP_TIMEPERFRAME = V4L2_CAP_TIMEPERFRAME;

/* libv4l2's v4l2_open and v4l2_ioctl are variadic, which Swift cannot call: fixed-argument wrappers.
 * Both return -1 with errno set on failure; the ioctl wrapper retries when interrupted by a signal. */
static inline int cv4l2_open(const char *path) { return v4l2_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC); }
static inline int cv4l2_ioctl(int fd, unsigned long request, void *arg) {
  int r;
  do { r = v4l2_ioctl(fd, request, arg); } while (r == -1 && errno == EINTR);
  return r;
}
static inline void *cv4l2_mmap(int fd, size_t length, int64_t offset) {
  return v4l2_mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
}
/* Asks the kernel directly (without libv4l2, which logs to stderr) whether path answers VIDIOC_QUERYCAP.
 * Returns 0 when it does, else the errno of the open or the ioctl (ENOTTY: not a V4L2 device). */
static inline int cv4l2_probe_querycap(const char *path) {
  struct v4l2_capability cap;
  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC), r, e = 0;
  if (fd < 0) return errno;
  do { r = ioctl(fd, VIDIOC_QUERYCAP, &cap); } while (r == -1 && errno == EINTR);
  if (r == -1) e = errno;
  close(fd);
  return e;
}
static inline int cv4l2_map_failed(const void *p) { return p == MAP_FAILED; }
#endif
