#include "ckernels.h"
#include <stdint.h>
#if defined(__x86_64__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

/* Linux: tile data is off until the process asks for it (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). */
static int request_amx_permission(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
  const long ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
  if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
  unsigned long bitmask = 0;
  if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bitmask) != 0) return 0;
  return (bitmask & (1UL << XFEATURE_XTILEDATA)) != 0;
#else
  return 0;
#endif
}

uint32_t vk_cpu_features(void) {
  uint32_t eax, ebx, ecx, edx, f = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  if (ecx & (1u << 0)) f |= VK_CPU_SSE3;
  if (ecx & (1u << 19)) f |= VK_CPU_SSE41;
  if (ecx & (1u << 20)) f |= VK_CPU_SSE42;
  int osxsave = (ecx & (1u << 27)) != 0;
  int avx = (ecx & (1u << 28)) != 0;
  int fma = (ecx & (1u << 12)) != 0;
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  int os_avx = (xcr0 & 0x6) == 0x6;           /* XMM + YMM state */
  int os_avx512 = (xcr0 & 0xe6) == 0xe6;      /* + opmask, ZMM_Hi256, Hi16_ZMM */
  int os_amx = (xcr0 & 0x60000) == 0x60000;   /* XTILECFG + XTILEDATA */
  if (avx && os_avx) f |= VK_CPU_AVX;
  if (fma && os_avx) f |= VK_CPU_FMA;
  uint32_t max_leaf = __get_cpuid_max(0, 0);
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    uint32_t sub1_eax = 0, b, c, d;
    if (eax >= 1) __cpuid_count(7, 1, sub1_eax, b, c, d);
    if (os_avx && (ebx & (1u << 5))) f |= VK_CPU_AVX2;
    if (os_avx512) {
      if (ebx & (1u << 16)) f |= VK_CPU_AVX512F;
      if (ebx & (1u << 17)) f |= VK_CPU_AVX512DQ;
      if (ebx & (1u << 30)) f |= VK_CPU_AVX512BW;
      if (ebx & (1u << 31)) f |= VK_CPU_AVX512VL;
      if (ecx & (1u << 11)) f |= VK_CPU_AVX512VNNI;
      if (sub1_eax & (1u << 5)) f |= VK_CPU_AVX512BF16;
    }
    if (os_amx && (edx & (1u << 24)) && (edx & (1u << 22))) {
      f |= VK_CPU_AMX_BF16;
      if (request_amx_permission()) f |= VK_CPU_AMX_PERMITTED;
    }
  }
  return f;
}

const char *vk_cpu_vendor(void) {
  static char vendor[13];
  uint32_t eax, ebx, ecx, edx;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return "";
  *(uint32_t *)(vendor + 0) = ebx;
  *(uint32_t *)(vendor + 4) = edx;
  *(uint32_t *)(vendor + 8) = ecx;
  vendor[12] = 0;
  return vendor;
}

const char *vk_cpu_brand(void) {
  static char brand[49];
  uint32_t regs[12];
  if (__get_cpuid_max(0x80000000, 0) < 0x80000004) return "";
  for (uint32_t i = 0; i < 3; i++) __get_cpuid(0x80000002 + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
  for (int i = 0; i < 48; i++) brand[i] = ((char *)regs)[i];
  brand[48] = 0;
  return brand;
}
#else
uint32_t vk_cpu_features(void) { return 0; }
const char *vk_cpu_vendor(void) { return ""; }
const char *vk_cpu_brand(void) { return ""; }
#endif
