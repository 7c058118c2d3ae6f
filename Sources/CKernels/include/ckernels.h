#ifndef VTAG_CKERNELS_H
#define VTAG_CKERNELS_H
#include <stddef.h>

/* Element-wise and row-wise fp32 kernels for vtag's tensor core. Each has an AVX2+FMA version
 * chosen at run time when the CPU has it, and a portable scalar version otherwise. */

/* 1 when the AVX2+FMA versions are in use. */
int vk_has_avx2(void);
/* Forces the portable versions (0) or allows the AVX2 ones (1); for tests and benchmarks. */
void vk_set_simd(int enabled);

/* x[i] = 0.5·x·(1 + erf(x/√2)) (erf by a rational approximation, |error| < 4e-7). */
void vk_gelu(float *x, size_t n);
/* Softmax of each of `rows` rows of `cols` values (row stride `ld`), in place. */
void vk_softmax_rows(float *x, size_t rows, size_t cols, size_t ld);
/* scores[i] += bias[i] for i < n, then softmax over rows of `cols` (contiguous). */
void vk_add_softmax_rows(float *scores, const float *bias, size_t rows, size_t cols);
/* LayerNorm of `rows` rows of `dim` values into out (may alias x). */
void vk_layernorm_rows(const float *x, size_t rows, size_t dim, const float *gamma, const float *beta, float eps,
                       float *out);
/* y[i] += x[i]. */
void vk_add(float *y, const float *x, size_t n);
/* y[i] = a[i] + b[i]. */
void vk_add3(float *y, const float *a, const float *b, size_t n);
/* y[i] += a·x[i]. */
void vk_axpy(float *y, float a, const float *x, size_t n);
/* Σ x[i]·y[i] (float accumulation in 8 lanes). */
float vk_dot(const float *x, const float *y, size_t n);

/* y[i·ldy + j] (+)= Σ_k x[i·ldx + k] · w[j·k_ld + k] for i < m ≤ 4, j in [j0, j1): a product with very
 * few rows (decoder steps), streaming each weight row once instead of packing the weight matrix. */
void vk_gemm_nt_small(const float *x, size_t m, size_t k, size_t ldx, const float *w, size_t j0, size_t j1, float *y,
                      size_t ldy, int accumulate);

/* ---------- CPU features (cpuid + XCR0: a feature counts only when the OS saves its state) ---------- */
#include <stdint.h>
static const uint32_t VK_CPU_SSE3 = 0x1u;
static const uint32_t VK_CPU_SSE41 = 0x2u;
static const uint32_t VK_CPU_SSE42 = 0x4u;
static const uint32_t VK_CPU_AVX = 0x8u;
static const uint32_t VK_CPU_FMA = 0x10u;
static const uint32_t VK_CPU_AVX2 = 0x20u;
static const uint32_t VK_CPU_AVX512F = 0x40u;
static const uint32_t VK_CPU_AVX512DQ = 0x80u;
static const uint32_t VK_CPU_AVX512BW = 0x100u;
static const uint32_t VK_CPU_AVX512VL = 0x200u;
static const uint32_t VK_CPU_AVX512VNNI = 0x400u;
static const uint32_t VK_CPU_AVX512BF16 = 0x800u;
static const uint32_t VK_CPU_AMX_BF16 = 0x1000u;
/* Linux granted this process the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM). */
static const uint32_t VK_CPU_AMX_PERMITTED = 0x2000u;
/* The VK_CPU_* bits of this CPU. Asks Linux for AMX tile permission when the CPU has AMX. */
uint32_t vk_cpu_features(void);
/* cpuid vendor string ("GenuineIntel", "AuthenticAMD") and brand string (static storage). */
const char *vk_cpu_vendor(void);
const char *vk_cpu_brand(void);


/* ---------- bf16 products, fp32 accumulation (AVX512-BF16: check VK_CPU_AVX512BF16 first) ---------- */
/* Columns per packed weight panel. */
#define VK_BF16_NR 32
/* fp32 → bf16, round to nearest even; and back (exact). */
void vk_bf16_from_f32(const float *x, uint16_t *out, size_t n);
void vk_f32_from_bf16(const uint16_t *x, float *out, size_t n);
/* uint16 elements of a packed [n, k] weight: panels of 32 columns, k in pairs, zero padded. */
size_t vk_bf16_packed_count(size_t n, size_t k);
/* Packs a PyTorch Linear weight w [n, k] (row stride ldw) for vk_bf16_gemm_nt. */
void vk_bf16_pack_weight(const float *w, size_t n, size_t k, size_t ldw, uint16_t *packed);
/* x [m, k] (row stride ldx) → bf16 rows of k rounded up to even (zero padded). */
void vk_bf16_convert_rows(const float *x, size_t m, size_t k, size_t ldx, uint16_t *out);
/* y[i, j] (+)= Σ_k a[i, k]·w[j, k] for the columns of panels [panel0, panel1): `a` from vk_bf16_convert_rows,
 * `packed` from vk_bf16_pack_weight; products of bf16 values summed in fp32 (vdpbf16ps). */
void vk_bf16_gemm_nt(const uint16_t *a, size_t m, size_t k, const uint16_t *packed, size_t n, size_t panel0,
                     size_t panel1, float *y, size_t ldy, int accumulate);
/* Σ x[i]·w[i] and y[i] += a·w[i] with bf16 w (fp32 arithmetic). */
float vk_dot_f32_bf16(const float *x, const uint16_t *w, size_t n);
void vk_axpy_bf16(float *y, float a, const uint16_t *w, size_t n);

#endif
