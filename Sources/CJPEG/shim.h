#ifndef VTAG_CJPEG_SHIM_H
#define VTAG_CJPEG_SHIM_H
#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>
#endif
