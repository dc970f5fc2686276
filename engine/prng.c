/* prng.c — xoshiro256** (Blackman & Vigna) seeded through splitmix64: integer-only state, so
 * every machine draws the same numbers; doubles are built from the top 53 bits. */
#include "ss_metrics.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void ss_rng_seed(ss_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

void ss_rng_seed_key(ss_rng *rng, uint64_t seed, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)key; p && *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    uint64_t x = seed;
    uint64_t mixed = splitmix64(&x) ^ h;
    ss_rng_seed(rng, mixed);
}

uint64_t ss_rng_next(ss_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ss_rng_uniform(ss_rng *rng)
{
    return (double)(ss_rng_next(rng) >> 11) * 0x1.0p-53;
}

double ss_rng_uniform_pm1(ss_rng *rng)
{
    return 2.0 * ss_rng_uniform(rng) - 1.0;
}

uint64_t ss_rng_below(ss_rng *rng, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* reject the top partial block so every residue is equally likely */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t x;
    do {
        x = ss_rng_next(rng);
    } while (x >= limit);
    return x % n;
}
