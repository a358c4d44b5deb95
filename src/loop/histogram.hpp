// A histogram of durations in nanoseconds with bounded memory, in the manner of HdrHistogram:
// exact below 256 ns, then 128 linear buckets per power of two (a value is known to within
// 0.8%), up to 2^40 ns (about 18 minutes; longer values count as that). Count, sum, min and
// max are exact. 4352 counters (35 KiB), allocated once. Not thread-safe.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

namespace eddy::detail {

class log_histogram {
 public:
  static constexpr unsigned sub_bits = 8;
  static constexpr std::uint64_t sub_count = 1u << sub_bits;  // exact values below this
  static constexpr std::uint64_t half = sub_count / 2;          // buckets per power of two above
  static constexpr unsigned max_bits = 40;
  static constexpr std::uint64_t max_value = (std::uint64_t{1} << max_bits) - 1;
  static constexpr std::size_t bucket_count = sub_count + (max_bits - sub_bits) * half;

  log_histogram() : counts_(bucket_count, 0) {}

  static std::size_t index_of(std::uint64_t v) noexcept {
    v = std::min(v, max_value);
    if (v < sub_count) return static_cast<std::size_t>(v);
    const unsigned top = static_cast<unsigned>(std::bit_width(v)) - 1;  // >= sub_bits
    const unsigned shift = top - (sub_bits - 1);                        // v >> shift in [half, sub_count)
    return static_cast<std::size_t>(sub_count + (shift - 1) * half + ((v >> shift) - half));
  }
  // The smallest and largest values that share bucket i.
  static std::uint64_t lowest_of(std::size_t i) noexcept {
    if (i < sub_count) return i;
    const std::uint64_t k = i - sub_count;
    const unsigned shift = static_cast<unsigned>(k / half) + 1;
    return (k % half + half) << shift;
  }
  static std::uint64_t highest_of(std::size_t i) noexcept {
    if (i < sub_count) return i;
    const std::uint64_t k = i - sub_count;
    const unsigned shift = static_cast<unsigned>(k / half) + 1;
    return ((k % half + half + 1) << shift) - 1;
  }

  void record(std::uint64_t v) noexcept {
    ++counts_[index_of(v)];
    if (count_ == 0 || v < min_) min_ = v;
    if (v > max_) max_ = v;
    ++count_;
    sum_ += static_cast<double>(v);
    // Welford's update: the variance without the cancellation of sum-of-squares.
    const double d = static_cast<double>(v) - mean_;
    mean_ += d / static_cast<double>(count_);
    m2_ += d * (static_cast<double>(v) - mean_);
  }
  void reset() noexcept {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = 0;
    min_ = max_ = 0;
    sum_ = mean_ = m2_ = 0.0;
  }

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double sum() const noexcept { return sum_; }
  [[nodiscard]] double mean() const noexcept { return count_ != 0 ? mean_ : 0.0; }
  // The population standard deviation (as Node's histogram.stddev).
  [[nodiscard]] double stddev() const noexcept {
    return count_ != 0 ? std::sqrt(m2_ / static_cast<double>(count_)) : 0.0;
  }
  // The value at percentile p (0..100): the largest value of the bucket holding the
  // ceil(p% of count)-th smallest sample, kept within [min, max]. 0 when empty.
  [[nodiscard]] std::uint64_t percentile(double p) const noexcept {
    if (count_ == 0) return 0;
    if (!(p > 0.0)) return min_;
    if (p >= 100.0) return max_;
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::clamp(highest_of(i), min_, max_);
    }
    return max_;
  }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  double sum_ = 0.0;
  double mean_ = 0.0;
  double m2_ = 0.0;
};

}  // namespace eddy::detail
