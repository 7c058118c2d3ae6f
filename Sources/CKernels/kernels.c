#include "ckernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define VK_X86 1
#endif

/* ---------- portable scalar versions ---------- */

static inline float erf_rational(float a) {
  float x = a < -4.f ? -4.f : (a > 4.f ? 4.f : a);
  float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return p / q;
}

static void gelu_scalar(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.f + erf_rational(x[i] * 0.70710678118654752f));
}

static void softmax_row_scalar(float *row, size_t cols) {
  float mx = -INFINITY;
  for (size_t j = 0; j < cols; j++) mx = row[j] > mx ? row[j] : mx;
  float sum = 0.f;
  for (size_t j = 0; j < cols; j++) {
    row[j] = expf(row[j] - mx);
    sum += row[j];
  }
  float inv = 1.f / sum;
  for (size_t j = 0; j < cols; j++) row[j] *= inv;
}

static void layernorm_row_scalar(const float *x, size_t dim, const float *g, const float *b, float eps, float *out) {
  float sum = 0.f;
  for (size_t j = 0; j < dim; j++) sum += x[j];
  float mean = sum / (float)dim;
  float sq = 0.f;
  for (size_t j = 0; j < dim; j++) {
    float d = x[j] - mean;
    sq += d * d;
  }
  float inv = 1.f / sqrtf(sq / (float)dim + eps);
  for (size_t j = 0; j < dim; j++) out[j] = (x[j] - mean) * inv * g[j] + b[j];
}

/* ---------- AVX2 + FMA versions ---------- */
#ifdef VK_X86
#define VK_AVX2 __attribute__((target("avx2,fma")))

VK_AVX2 static inline __m256 exp256(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.7f);
  __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 e = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.f));
  __m256i k = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(e, _mm256_castsi256_ps(k));
  return _mm256_andnot_ps(under, y);
}

VK_AVX2 static inline __m256 erf256(__m256 a) {
  __m256 x = _mm256_min_ps(_mm256_max_ps(a, _mm256_set1_ps(-4.f)), _mm256_set1_ps(4.f));
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-2.72614225801306e-10f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.60960333262415e-02f));
  p = _mm256_mul_ps(p, x);
  __m256 q = _mm256_set1_ps(-1.45660718464996e-05f);
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.42647390514189e-02f));
  return _mm256_div_ps(p, q);
}

VK_AVX2 static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

VK_AVX2 static inline float hmax256(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

/* Loads n < 8 floats, padding with `fill`. */
VK_AVX2 static inline __m256 load_partial(const float *p, size_t n, float fill) {
  float tmp[8];
  for (int i = 0; i < 8; i++) tmp[i] = (size_t)i < n ? p[i] : fill;
  return _mm256_loadu_ps(tmp);
}

VK_AVX2 static inline void store_partial(float *p, __m256 v, size_t n) {
  float tmp[8];
  _mm256_storeu_ps(tmp, v);
  for (size_t i = 0; i < n; i++) p[i] = tmp[i];
}

VK_AVX2 static void gelu_avx2(float *x, size_t n) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.f), rs2 = _mm256_set1_ps(0.70710678118654752f);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 g = _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf256(_mm256_mul_ps(v, rs2))));
    _mm256_storeu_ps(x + i, g);
  }
  if (i < n) {
    __m256 v = load_partial(x + i, n - i, 0.f);
    __m256 g = _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf256(_mm256_mul_ps(v, rs2))));
    store_partial(x + i, g, n - i);
  }
}

VK_AVX2 static void softmax_row_avx2(float *row, size_t cols) {
  size_t j = 0;
  __m256 mv = _mm256_set1_ps(-INFINITY);
  for (; j + 8 <= cols; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(row + j));
  float mx = hmax256(mv);
  for (; j < cols; j++) mx = row[j] > mx ? row[j] : mx;
  __m256 m = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
  for (j = 0; j + 8 <= cols; j += 8) {
    __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(row + j), m));
    _mm256_storeu_ps(row + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = hsum256(acc);
  if (j < cols) {
    __m256 e = exp256(_mm256_sub_ps(load_partial(row + j, cols - j, -INFINITY), m));
    float tmp[8];
    _mm256_storeu_ps(tmp, e);
    for (size_t k = 0; k < cols - j; k++) {
      row[j + k] = tmp[k];
      sum += tmp[k];
    }
  }
  __m256 inv = _mm256_set1_ps(1.f / sum);
  for (j = 0; j + 8 <= cols; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
  for (; j < cols; j++) row[j] *= 1.f / sum;
}

VK_AVX2 static void layernorm_row_avx2(const float *x, size_t dim, const float *g, const float *b, float eps,
                                       float *out) {
  size_t j = 0;
  __m256 acc = _mm256_setzero_ps();
  for (; j + 8 <= dim; j += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + j));
  float sum = hsum256(acc);
  for (; j < dim; j++) sum += x[j];
  float mean = sum / (float)dim;
  __m256 m = _mm256_set1_ps(mean);
  acc = _mm256_setzero_ps();
  for (j = 0; j + 8 <= dim; j += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + j), m);
    acc = _mm256_fmadd_ps(d, d, acc);
  }
  float sq = hsum256(acc);
  for (; j < dim; j++) sq += (x[j] - mean) * (x[j] - mean);
  float inv = 1.f / sqrtf(sq / (float)dim + eps);
  __m256 iv = _mm256_set1_ps(inv);
  for (j = 0; j + 8 <= dim; j += 8) {
    __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), m), iv);
    _mm256_storeu_ps(out + j, _mm256_fmadd_ps(v, _mm256_loadu_ps(g + j), _mm256_loadu_ps(b + j)));
  }
  for (; j < dim; j++) out[j] = (x[j] - mean) * inv * g[j] + b[j];
}

VK_AVX2 static void add_avx2(float *y, const float *x, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
  for (; i < n; i++) y[i] += x[i];
}

VK_AVX2 static void add3_avx2(float *y, const float *a, const float *b, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; i++) y[i] = a[i] + b[i];
}

VK_AVX2 static void axpy_avx2(float *y, float a, const float *x, size_t n) {
  __m256 av = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += a * x[i];
}

VK_AVX2 static float dot_avx2(const float *x, const float *y, size_t n) {
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc);
  float s = hsum256(acc);
  for (; i < n; i++) s += x[i] * y[i];
  return s;
}
#endif


#ifdef VK_X86
VK_AVX2 static void gemm_nt_small_avx2(const float *x, size_t m, size_t k, size_t ldx, const float *w, size_t j0,
                                       size_t j1, float *y, size_t ldy, int accumulate) {
  size_t k8 = k / 8 * 8;
  for (size_t j = j0; j < j1; j++) {
    const float *wr = w + j * k;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t kk = 0;
    for (; kk < k8; kk += 8) {
      __m256 wv = _mm256_loadu_ps(wr + kk);
      a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + kk), a0);
      if (m > 1) a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + ldx + kk), a1);
      if (m > 2) a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + 2 * ldx + kk), a2);
      if (m > 3) a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + 3 * ldx + kk), a3);
    }
    float r[4] = {hsum256(a0), hsum256(a1), hsum256(a2), hsum256(a3)};
    for (; kk < k; kk++)
      for (size_t i = 0; i < m; i++) r[i] += wr[kk] * x[i * ldx + kk];
    for (size_t i = 0; i < m; i++) {
      if (accumulate) y[i * ldy + j] += r[i]; else y[i * ldy + j] = r[i];
    }
  }
}
#endif

/* ---------- dispatch ---------- */

static int simd_state = -1; /* -1 unknown, 0 off, 1 on */

int vk_has_avx2(void) {
#ifdef VK_X86
  if (simd_state < 0) {
    __builtin_cpu_init();
    simd_state = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return simd_state;
#else
  return 0;
#endif
}

void vk_set_simd(int enabled) {
#ifdef VK_X86
  __builtin_cpu_init();
  simd_state = enabled && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  (void)enabled;
#endif
}

void vk_gelu(float *x, size_t n) {
#ifdef VK_X86
  if (vk_has_avx2()) { gelu_avx2(x, n); return; }
#endif
  gelu_scalar(x, n);
}

void vk_softmax_rows(float *x, size_t rows, size_t cols, size_t ld) {
#ifdef VK_X86
  if (vk_has_avx2()) {
    for (size_t r = 0; r < rows; r++) softmax_row_avx2(x + r * ld, cols);
    return;
  }
#endif
  for (size_t r = 0; r < rows; r++) softmax_row_scalar(x + r * ld, cols);
}

void vk_add_softmax_rows(float *scores, const float *bias, size_t rows, size_t cols) {
  vk_add(scores, bias, rows * cols);
  vk_softmax_rows(scores, rows, cols, cols);
}

void vk_layernorm_rows(const float *x, size_t rows, size_t dim, const float *gamma, const float *beta, float eps,
                       float *out) {
#ifdef VK_X86
  if (vk_has_avx2()) {
    for (size_t r = 0; r < rows; r++) layernorm_row_avx2(x + r * dim, dim, gamma, beta, eps, out + r * dim);
    return;
  }
#endif
  for (size_t r = 0; r < rows; r++) layernorm_row_scalar(x + r * dim, dim, gamma, beta, eps, out + r * dim);
}

void vk_add(float *y, const float *x, size_t n) {
#ifdef VK_X86
  if (vk_has_avx2()) { add_avx2(y, x, n); return; }
#endif
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void vk_add3(float *y, const float *a, const float *b, size_t n) {
#ifdef VK_X86
  if (vk_has_avx2()) { add3_avx2(y, a, b, n); return; }
#endif
  for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void vk_axpy(float *y, float a, const float *x, size_t n) {
#ifdef VK_X86
  if (vk_has_avx2()) { axpy_avx2(y, a, x, n); return; }
#endif
  for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

float vk_dot(const float *x, const float *y, size_t n) {
#ifdef VK_X86
  if (vk_has_avx2()) return dot_avx2(x, y, n);
#endif
  float s = 0.f;
  for (size_t i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

void vk_gemm_nt_small(const float *x, size_t m, size_t k, size_t ldx, const float *w, size_t j0, size_t j1, float *y,
                      size_t ldy, int accumulate) {
#ifdef VK_X86
  if (vk_has_avx2() && m <= 4) { gemm_nt_small_avx2(x, m, k, ldx, w, j0, j1, y, ldy, accumulate); return; }
#endif
  for (size_t j = j0; j < j1; j++)
    for (size_t i = 0; i < m; i++) {
      float r = 0.f;
      for (size_t kk = 0; kk < k; kk++) r += x[i * ldx + kk] * w[j * k + kk];
      if (accumulate) y[i * ldy + j] += r; else y[i * ldy + j] = r;
    }
}
