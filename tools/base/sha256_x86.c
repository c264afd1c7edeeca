/* SHA-256 blocks with the x86 SHA extensions (SHA-NI: sha256rnds2,
 * sha256msg1, sha256msg2), about ten times the portable code's speed;
 * used when CPUID says the CPU has them. The state is kept as the
 * instructions want it: ABEF and CDGH in two registers. */
#include "sha256.h"

#include <cpuid.h>
#include <immintrin.h>
#include <stdbool.h>

bool sha256_x86_available(void)
{
	unsigned a, b, c, d;

	/* CPUID.(EAX=7,ECX=0):EBX bit 29 is SHA; the code also uses SSSE3
	 * (pshufb) and SSE4.1 (pblendw): CPUID.1:ECX bits 9 and 19. */
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 29)))
		return false;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	return (c & (1u << 9)) && (c & (1u << 19));
}

__attribute__((target("sha,ssse3,sse4.1")))
void sha256_x86_blocks(uint32_t h[8], const uint8_t *p, size_t n,
		       const uint32_t k[64])
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
					     0x0405060700010203ULL);
	__m128i abef, cdgh, t, w[4], msg, abef0, cdgh0;

	/* h[0..3] = DCBA, h[4..7] = HGFE (lane 3 first): to ABEF, CDGH */
	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xb1);
	cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1b);
	abef = _mm_alignr_epi8(t, cdgh, 8);
	cdgh = _mm_blend_epi16(cdgh, t, 0xf0);

	for (; n; n--, p += 64) {
		abef0 = abef;
		cdgh0 = cdgh;
		for (unsigned i = 0; i < 16; i++) {
			__m128i *wi = &w[i & 3];

			if (i < 4) {
				*wi = _mm_shuffle_epi8(_mm_loadu_si128(
					(const __m128i *)(p + 16 * i)), bswap);
			} else {
				/* w[t] = w[t-16] + s0(w[t-15]) + w[t-7] + s1(w[t-2]) */
				*wi = _mm_sha256msg1_epu32(*wi, w[(i + 1) & 3]);
				*wi = _mm_add_epi32(*wi, _mm_alignr_epi8(w[(i + 3) & 3],
									 w[(i + 2) & 3], 4));
				*wi = _mm_sha256msg2_epu32(*wi, w[(i + 3) & 3]);
			}
			msg = _mm_add_epi32(*wi, _mm_loadu_si128(
					(const __m128i *)&k[4 * i]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
			abef = _mm_sha256rnds2_epu32(abef, cdgh,
						     _mm_shuffle_epi32(msg, 0x0e));
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}

	/* back to DCBA, HGFE */
	t = _mm_shuffle_epi32(abef, 0x1b);
	cdgh = _mm_shuffle_epi32(cdgh, 0xb1);
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, cdgh, 0xf0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(cdgh, t, 8));
}
