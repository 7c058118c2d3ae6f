/* bf16 products with fp32 accumulation on AVX512-BF16 (vdpbf16ps). Compiled for that ISA per function
 * (target attributes); callers check vk_cpu_features() & VK_CPU_AVX512BF16 first. */
#include "ckernels.h"
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#endif

/* Round-to-nearest-even fp32 → bf16 (NaN stays NaN), the same rounding as vcvtneps2bf16. */
static inline uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static inline float from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

void vk_bf16_from_f32(const float *x, uint16_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = to_bf16(x[i]);
}

void vk_f32_from_bf16(const uint16_t *x, float *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = from_bf16(x[i]);
}

size_t vk_bf16_packed_count(size_t n, size_t k) {
  size_t panels = (n + VK_BF16_NR - 1) / VK_BF16_NR;
  return panels * ((k + 1) / 2) * VK_BF16_NR * 2;
}

void vk_bf16_pack_weight(const float *w, size_t n, size_t k, size_t ldw, uint16_t *packed) {
  size_t pairs = (k + 1) / 2;
  size_t panels = (n + VK_BF16_NR - 1) / VK_BF16_NR;
  for (size_t p = 0; p < panels; p++) {
    uint16_t *dst = packed + p * pairs * VK_BF16_NR * 2;
    for (size_t q = 0; q < pairs; q++) {
      for (size_t j = 0; j < VK_BF16_NR; j++) {
        size_t col = p * VK_BF16_NR + j;
        float a = 0, b = 0;
        if (col < n) {
          a = w[col * ldw + 2 * q];
          b = 2 * q + 1 < k ? w[col * ldw + 2 * q + 1] : 0.f;
        }
        dst[(q * VK_BF16_NR + j) * 2] = to_bf16(a);
        dst[(q * VK_BF16_NR + j) * 2 + 1] = to_bf16(b);
      }
    }
  }
}

#if defined(__x86_64__)
#define MR 12
#define KC 128 /* pairs per k block: the 32-column B slice is 16 KB, in L1 */
#define MC 768 /* rows per m block: the A block is ≤ 384 KB, in L2 */

/* acc[r][0..1] over pairs [0, pairs) of A rows (stride lda in uint16) and one B panel slice. */
BF16_TARGET static void kernel_12x32(const uint16_t *a, size_t lda, const uint16_t *b, size_t pairs, float *c,
                                     size_t ldc, int load_c) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; r++) {
    if (load_c) {
      acc[r][0] = _mm512_loadu_ps(c + r * ldc);
      acc[r][1] = _mm512_loadu_ps(c + r * ldc + 16);
    } else {
      acc[r][0] = _mm512_setzero_ps();
      acc[r][1] = _mm512_setzero_ps();
    }
  }
  for (size_t q = 0; q < pairs; q++) {
    __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(b + q * 64));
    __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(b + q * 64 + 32));
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      int32_t pair;
      memcpy(&pair, a + r * lda + 2 * q, 4);
      __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
  for (int r = 0; r < MR; r++) {
    _mm512_storeu_ps(c + r * ldc, acc[r][0]);
    _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
  }
}

BF16_TARGET void vk_bf16_gemm_nt(const uint16_t *a, size_t m, size_t k, const uint16_t *packed, size_t n,
                                 size_t panel0, size_t panel1, float *y, size_t ldy, int accumulate) {
  size_t kp = (k + 1) & ~(size_t)1;
  size_t pairs = kp / 2;
  float tile[MR * VK_BF16_NR];
  uint16_t apad[MR * 2 * KC];
  for (size_t m0 = 0; m0 < m; m0 += MC) {
    size_t m1 = m0 + MC < m ? m0 + MC : m;
    for (size_t q0 = 0; q0 < pairs; q0 += KC) {
      size_t qn = q0 + KC < pairs ? KC : pairs - q0;
      int load = accumulate || q0 > 0;
      for (size_t p = panel0; p < panel1; p++) {
        const uint16_t *bp = packed + (p * pairs + q0) * VK_BF16_NR * 2;
        size_t col0 = p * VK_BF16_NR;
        size_t cols = n - col0 < VK_BF16_NR ? n - col0 : VK_BF16_NR;
        for (size_t r0 = m0; r0 < m1; r0 += MR) {
          size_t rows = m1 - r0 < MR ? m1 - r0 : MR;
          const uint16_t *ap = a + r0 * kp + 2 * q0;
          if (rows == MR && cols == VK_BF16_NR) {
            kernel_12x32(ap, kp, bp, qn, y + r0 * ldy + col0, ldy, load);
            continue;
          }
          /* Edge tile: rows padded with zeros, C through a local tile. */
          memset(apad, 0, sizeof(apad));
          for (size_t r = 0; r < rows; r++) memcpy(apad + r * 2 * KC, ap + r * kp, qn * 4);
          for (size_t r = 0; r < MR; r++)
            for (size_t j = 0; j < VK_BF16_NR; j++)
              tile[r * VK_BF16_NR + j] = (load && r < rows && j < cols) ? y[(r0 + r) * ldy + col0 + j] : 0.f;
          kernel_12x32(apad, 2 * KC, bp, qn, tile, VK_BF16_NR, 1);
          for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < cols; j++) y[(r0 + r) * ldy + col0 + j] = tile[r * VK_BF16_NR + j];
        }
      }
    }
  }
}

BF16_TARGET void vk_bf16_convert_rows(const float *x, size_t m, size_t k, size_t ldx, uint16_t *out) {
  size_t kp = (k + 1) & ~(size_t)1;
  for (size_t i = 0; i < m; i++) {
    const float *src = x + i * ldx;
    uint16_t *dst = out + i * kp;
    size_t j = 0;
    for (; j + 16 <= k; j += 16) _mm256_storeu_si256((void *)(dst + j), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + j)));
    for (; j < k; j++) dst[j] = to_bf16(src[j]);
    if (kp > k) dst[k] = 0;
  }
}

BF16_TARGET float vk_dot_f32_bf16(const float *x, const uint16_t *w, size_t n) {
  __m512 acc = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 wv = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const void *)(w + i))), 16));
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), wv, acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  for (; i < n; i++) s += x[i] * from_bf16(w[i]);
  return s;
}

BF16_TARGET void vk_axpy_bf16(float *y, float a, const uint16_t *w, size_t n) {
  __m512 av = _mm512_set1_ps(a);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 wv = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const void *)(w + i))), 16));
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, wv, _mm512_loadu_ps(y + i)));
  }
  for (; i < n; i++) y[i] += a * from_bf16(w[i]);
}
#else
void vk_bf16_convert_rows(const float *x, size_t m, size_t k, size_t ldx, uint16_t *out) {
  size_t kp = (k + 1) & ~(size_t)1;
  for (size_t i = 0; i < m; i++) {
    for (size_t j = 0; j < k; j++) out[i * kp + j] = to_bf16(x[i * ldx + j]);
    if (kp > k) out[i * kp + k] = 0;
  }
}
void vk_bf16_gemm_nt(const uint16_t *a, size_t m, size_t k, const uint16_t *packed, size_t n, size_t panel0,
                     size_t panel1, float *y, size_t ldy, int accumulate) {
  (void)a; (void)m; (void)k; (void)packed; (void)n; (void)panel0; (void)panel1; (void)y; (void)ldy; (void)accumulate;
}
float vk_dot_f32_bf16(const float *x, const uint16_t *w, size_t n) {
  float s = 0;
  for (size_t i = 0; i < n; i++) s += x[i] * from_bf16(w[i]);
  return s;
}
void vk_axpy_bf16(float *y, float a, const uint16_t *w, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += a * from_bf16(w[i]);
}
#endif
