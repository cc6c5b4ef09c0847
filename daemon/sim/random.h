#pragma once
// Deterministic random numbers for the simulator: xoshiro256** seeded through splitmix64, and
// the few distributions it needs, written out here because the std:: distributions are not
// specified bit-for-bit and would make the output depend on the standard library.
// Thread-safety: an Rng is a value; use one per thread (the simulator uses one per account).
#include <cmath>
#include <cstdint>
#include <numbers>

namespace kamwatch::sim {

// splitmix64's finaliser: a bijection on 64-bit integers (distinct inputs, distinct outputs).
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (std::uint64_t& w : s_) {
      w = mix64(x);
      x += 0x9E3779B97F4A7C15ULL;
    }
  }
  // An independent stream for a (seed, stream) pair, e.g. one per account.
  static Rng stream(std::uint64_t seed, std::uint64_t stream) {
    return Rng(mix64(seed) ^ mix64(stream * 0xD1B54A32D192ED03ULL + 1));
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [lo, hi].
  int uniform_int(int lo, int hi) {
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<int>(next() % span);
  }
  bool chance(double p) { return uniform() < p; }

  // Standard normal (Box-Muller; one value per call keeps the stream simple to reason about).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  // Lognormal factor with mean 1 and log-space standard deviation sigma.
  double lognormal_mean1(double sigma) { return std::exp(sigma * normal() - 0.5 * sigma * sigma); }
  double exponential(double mean) { return -mean * std::log(1.0 - uniform()); }

  // Poisson count: exact (Knuth) for small means, rounded normal approximation above 30.
  int poisson(double mean) {
    if (!(mean > 0)) return 0;
    if (mean > 30) {
      const double x = std::round(mean + std::sqrt(mean) * normal());
      return x < 0 ? 0 : static_cast<int>(x);
    }
    const double limit = std::exp(-mean);
    int k = 0;
    double p = uniform();
    while (p > limit) {
      ++k;
      p *= uniform();
    }
    return k;
  }

  // Binomial count of n trials with probability p: exact for n <= 64, rounded normal
  // approximation above.
  int binomial(int n, double p) {
    if (n <= 0 || !(p > 0)) return 0;
    if (p >= 1) return n;
    if (n > 64) {
      const double x = std::round(n * p + std::sqrt(n * p * (1 - p)) * normal());
      return x < 0 ? 0 : x > n ? n : static_cast<int>(x);
    }
    int k = 0;
    for (int i = 0; i < n; ++i) k += uniform() < p;
    return k;
  }

  // Index drawn with probability proportional to weights[i] (n > 0, weights >= 0).
  template <typename W>
  int pick(const W& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = uniform() * total;
    int i = 0;
    int last = 0;
    for (double w : weights) {
      if (w > 0) {
        last = i;
        if (x < w) return i;
        x -= w;
      }
      ++i;
    }
    return last;
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace kamwatch::sim
