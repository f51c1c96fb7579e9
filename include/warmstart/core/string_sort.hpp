// Sorting many names that share long prefixes (TF variable names: "FeatureExtractor/MobilenetV1/
// Conv2d_13_pointwise/BatchNorm/gamma"), by bytes, as std::string_view's operator< orders them.
//
// A comparison sort of string_views spends its time in memcmp over the shared prefix, and each
// comparison follows two pointers into the heap. Here each level of a most-significant-first
// sort skips the prefix every name of its group shares, loads the next 8 bytes of each name once
// into an integer key, and three-way-quicksorts the (key, length) pairs; only runs still tied
// after 8 bytes go one level deeper (multikey quicksort, Bentley and Sedgewick 1997, with 8-byte
// characters).
//
// SortedOrder(names)[k] is the index of the k-th smallest name; equal names keep index order
// (the result equals sorting (name, index) pairs).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace warmstart::core {

namespace detail {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
inline constexpr bool kLittleEndian = false;
#else
inline constexpr bool kLittleEndian = true;
#endif

// 24 bytes: the partitions move these, so size is time.
struct SortItem {
  uint64_t key;  // 8 bytes from the current depth, big-endian, zero-padded
  const char* data;
  uint32_t size;
  uint32_t index;
};

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint64_t ByteSwap64(uint64_t v) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_bswap64(v);
#else
  uint64_t out = 0;
  for (int i = 0; i < 8; ++i, v >>= 8) out = (out << 8) | (v & 0xff);
  return out;
#endif
}

// Index of the first differing byte of two 8-byte words loaded from memory (x = a ^ b != 0).
inline size_t FirstDifferingByte(uint64_t x) {
#if defined(__GNUC__) || defined(__clang__)
  if constexpr (kLittleEndian) return static_cast<size_t>(__builtin_ctzll(x)) / 8;
  return static_cast<size_t>(__builtin_clzll(x)) / 8;
#else
  size_t k = 0;
  if constexpr (kLittleEndian) {
    while ((x & 0xff) == 0) x >>= 8, ++k;
  } else {
    while ((x >> 56) == 0) x <<= 8, ++k;
  }
  return k;
#endif
}

// The 8 bytes of s from `depth`, as a big-endian integer (so integer order is byte order),
// zero-padded past the end. Requires depth <= s.size().
inline uint64_t KeyAt(const SortItem& s, size_t depth) {
  const size_t n = std::min<size_t>(8, s.size - depth);
  if (n == 8) {
    const uint64_t v = Load64(s.data + depth);
    return kLittleEndian ? ByteSwap64(v) : v;
  }
  uint64_t k = 0;
  for (size_t i = 0; i < n; ++i) k |= static_cast<uint64_t>(static_cast<unsigned char>(s.data[depth + i])) << (56 - 8 * i);
  return k;
}

// Length of the common prefix of a and b, at most `limit`.
inline size_t CommonPrefix(const char* a, const char* b, size_t limit) {
  size_t k = 0;
  for (; k + 8 <= limit; k += 8) {
    const uint64_t x = Load64(a + k) ^ Load64(b + k);
    if (x != 0) return k + FirstDifferingByte(x);
  }
  while (k < limit && a[k] == b[k]) ++k;
  return k;
}

inline void SortLevel(SortItem* begin, SortItem* end, size_t depth);

// Three-way quicksort on the cached keys of [begin, end), all of whose names agree on
// [0, depth): the smaller and larger parts reuse their keys; each run of equal keys is finished
// by the next level, or, when its names end within the key (and are therefore equal), put in
// index order. Zero padding makes "ab" and "ab\0" equal keys, so the length breaks the tie
// (shorter first); a length past the key's 8 bytes counts as 9.
inline void SortByKey(SortItem* begin, SortItem* end, size_t depth) {
  const auto rest = [depth](const SortItem& a) { return std::min<size_t>(a.size - depth, 9); };
  const auto less = [&](const SortItem& a, const SortItem& b) { return a.key != b.key ? a.key < b.key : rest(a) < rest(b); };
  const auto finish_run = [&](SortItem* run, SortItem* run_end) {
    if (run_end - run < 2) return;
    if (rest(*run) == 9) {
      SortLevel(run, run_end, depth + 8);
    } else {
      std::sort(run, run_end, [](const SortItem& a, const SortItem& b) { return a.index < b.index; });
    }
  };
  while (end - begin > 1) {
    if (end - begin <= 16) {
      std::sort(begin, end, [&](const SortItem& a, const SortItem& b) {
        return less(a, b) || (!less(b, a) && a.index < b.index);
      });
      for (SortItem* run = begin; run != end;) {
        SortItem* next = run + 1;
        while (next != end && !less(*run, *next)) ++next;
        finish_run(run, next);
        run = next;
      }
      return;
    }
    SortItem* mid = begin + (end - begin) / 2;
    SortItem* last = end - 1;
    if (less(*mid, *begin)) std::swap(*mid, *begin);
    if (less(*last, *mid)) {
      std::swap(*last, *mid);
      if (less(*mid, *begin)) std::swap(*mid, *begin);
    }
    const SortItem pivot = *mid;  // median of three
    SortItem* lt = begin;         // [begin, lt) < pivot
    SortItem* i = begin;          // [lt, i) == pivot
    SortItem* gt = end;           // [gt, end) > pivot
    while (i < gt) {
      if (less(*i, pivot)) {
        std::swap(*lt++, *i++);
      } else if (less(pivot, *i)) {
        std::swap(*i, *--gt);
      } else {
        ++i;
      }
    }
    finish_run(lt, gt);
    // Recurse into the smaller side, loop on the larger: the stack stays O(log n) per level.
    if (lt - begin < end - gt) {
      SortByKey(begin, lt, depth);
      begin = gt;
    } else {
      SortByKey(gt, end, depth);
      end = lt;
    }
  }
}

inline void SortLevel(SortItem* begin, SortItem* end, size_t depth) {
  if (end - begin < 2) return;
  // Skip what every name of the group shares beyond depth.
  const SortItem& first = *begin;
  size_t common = first.size - depth;
  for (SortItem* it = begin + 1; it != end && common > 0; ++it) {
    common = CommonPrefix(it->data + depth, first.data + depth, std::min<size_t>(common, it->size - depth));
  }
  depth += common;
  for (SortItem* it = begin; it != end; ++it) it->key = KeyAt(*it, depth);
  SortByKey(begin, end, depth);
}

}  // namespace detail

// Requires: fewer than 2^32 names, each shorter than 4 GiB.
inline std::vector<size_t> SortedOrder(const std::vector<std::string_view>& names) {
  std::vector<detail::SortItem> items;
  items.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    items.push_back({0, names[i].data(), static_cast<uint32_t>(names[i].size()), static_cast<uint32_t>(i)});
  }
  detail::SortLevel(items.data(), items.data() + items.size(), 0);
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < items.size(); ++i) order[i] = items[i].index;
  return order;
}

}  // namespace warmstart::core
