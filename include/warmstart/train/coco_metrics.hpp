// COCO box mAP as pycocotools' COCOeval computes it (iouType 'bbox'), for the 'all' area range and
// at most 100 detections per image and category: the numbers the Object Detection API's
// CocoDetectionEvaluator reports as DetectionBoxes_Precision/mAP, mAP@.50IOU, mAP@.75IOU and
// DetectionBoxes_Recall/AR@100.
//
// Mirrors cocodataset/cocoapi PythonAPI/pycocotools/
//   cocoeval.py   Params (iouThrs, recThrs), computeIoU, evaluateImg, accumulate, summarize
//   coco.py       loadRes (a detection's area is w*h, iscrowd 0)
//   common/maskApi.c  bbIou (a crowd box's "union" is the detection's area)
// and research/object_detection/metrics/coco_tools.py (boxes to [x, y, w, h], groundtruth area).
//
// Input, per image: boxes [N, 4] ymin, xmin, ymax, xmax (the ssd/ layout) in any one unit for
// groundtruth and detections alike. The OD API hands pycocotools absolute pixel boxes; pass those
// for bit-equal IoUs (IoU is scale-free, so normalised boxes give the same mAP up to rounding).
// Category ids are whatever the caller uses, the same for both (e.g. label map ids).
//
// The computation, per category k with any groundtruth or detection:
//   1. per image: detections sorted by descending score (stable), the first 100 kept; groundtruth
//      ignored when crowd (or area outside [0, 1e10]), sorted not-ignored first (stable)
//   2. per IoU threshold t in .50:.05:.95, per detection in score order: the best still-free
//      groundtruth with IoU >= t (a crowd box is never used up; a not-ignored match is never left
//      for an ignored one). A match to an ignored box makes the detection ignored
//   3. all images' detections merged by descending score (stable: image order, then rank)
//      tp, fp = running counts of matched / unmatched not-ignored detections
//      recall = tp / G (G = not-ignored groundtruth), precision = tp / (tp + fp + eps)
//      precision made non-increasing from the right, then read at recall 0:.01:1 as the first
//      position with recall >= r (0 past the last detection)
//   4. a category with G = 0 has precision -1 and is left out of every mean
// mAP is the mean over t, recall points and categories; mAP@.5 and @.75 fix t.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "warmstart/error.hpp"
#include "warmstart/ssd/box_ops.hpp"
#include "warmstart/ssd/post_processing.hpp"

namespace warmstart::train {

// One image's groundtruth.
template <typename T>
struct CocoGroundtruth {
  ssd::BoxMatrix<T> boxes;     // [G, 4] ymin, xmin, ymax, xmax
  std::vector<int> classes;    // [G] category ids
  std::vector<bool> is_crowd;  // [G], or empty for none
};

struct CocoCategoryMetrics {
  int category = 0;
  int num_groundtruth = 0;  // not-ignored boxes over all images
  double ap = -1;           // mean precision over IoU .50:.95 and recall 0:.01:1; -1 without groundtruth
  double ap50 = -1;
  double ap75 = -1;
  double ar100 = -1;  // mean over IoU thresholds of the recall reached
};

struct CocoMetrics {
  double map = -1;    // DetectionBoxes_Precision/mAP; -1 when no category has groundtruth
  double map50 = -1;  // DetectionBoxes_Precision/mAP@.50IOU
  double map75 = -1;  // DetectionBoxes_Precision/mAP@.75IOU
  double ar100 = -1;  // DetectionBoxes_Recall/AR@100
  std::vector<CocoCategoryMetrics> per_category;  // by ascending category id
};

namespace detail {

constexpr int kCocoIouThresholds = 10;    // T
constexpr int kCocoRecallThresholds = 101;  // R
constexpr int kCocoMaxDetections = 100;
constexpr double kCocoMaxArea = 1e10;  // areaRng 'all' = [0, 1e5 ** 2]

// np.linspace(start, stop, num): i * ((stop - start) / (num - 1)) + start, the last exactly stop.
template <size_t N>
std::array<double, N> Linspace(double start, double stop) {
  std::array<double, N> out{};
  const double step = (stop - start) / static_cast<double>(N - 1);
  for (size_t i = 0; i < N; ++i) out[i] = static_cast<double>(i) * step + start;
  out[N - 1] = stop;
  return out;
}

// A box as pycocotools holds it: [x, y, w, h] doubles, and its area.
struct CocoBox {
  double x = 0, y = 0, w = 0, h = 0;
  double area = 0;
};

// maskApi.c bbIou for one pair; crowd: intersection over the detection's area.
inline double CocoIou(const CocoBox& d, const CocoBox& g, bool crowd) {
  const double w = std::min(d.w + d.x, g.w + g.x) - std::max(d.x, g.x);
  if (w <= 0) return 0;
  const double h = std::min(d.h + d.y, g.h + g.y) - std::max(d.y, g.y);
  if (h <= 0) return 0;
  const double i = w * h;
  const double da = d.w * d.h;
  const double u = crowd ? da : da + g.w * g.h - i;
  return i / u;
}

struct CocoImage {
  std::vector<CocoBox> gt;
  std::vector<int> gt_classes;
  std::vector<bool> gt_crowd;
  std::vector<CocoBox> dt;
  std::vector<int> dt_classes;
  std::vector<double> dt_scores;
};

// evaluateImg's result for one image and category (area 'all', maxDet 100).
struct CocoImageEval {
  std::vector<double> scores;  // [D] descending
  std::vector<std::array<bool, kCocoIouThresholds>> matched;  // [D][T]
  std::vector<std::array<bool, kCocoIouThresholds>> ignored;  // [D][T]
  int num_not_ignored_gt = 0;
};

// Indices of one category's boxes, detections by descending score (stable), at most 100.
inline std::vector<size_t> CocoSortedDetections(const CocoImage& im, int category) {
  std::vector<size_t> dt;
  for (size_t i = 0; i < im.dt_classes.size(); ++i) {
    if (im.dt_classes[i] == category) dt.push_back(i);
  }
  std::stable_sort(dt.begin(), dt.end(), [&](size_t a, size_t b) { return im.dt_scores[a] > im.dt_scores[b]; });
  if (dt.size() > static_cast<size_t>(kCocoMaxDetections)) dt.resize(kCocoMaxDetections);
  return dt;
}

inline bool CocoOutsideArea(double area) { return area < 0 || area > kCocoMaxArea; }

// The greedy match of evaluateImg at every IoU threshold. Requires: gt sorted not-ignored first.
inline void CocoMatch(const std::vector<std::vector<double>>& ious, const std::vector<bool>& gt_ignore,
                      const std::vector<bool>& gt_crowd, CocoImageEval& e) {
  static const std::array<double, kCocoIouThresholds> kIouThresholds = Linspace<kCocoIouThresholds>(0.5, 0.95);
  const size_t num_gt = gt_ignore.size();
  for (int t = 0; t < kCocoIouThresholds; ++t) {
    std::vector<bool> gt_used(num_gt, false);
    for (size_t d = 0; d < ious.size(); ++d) {
      double best = std::min(kIouThresholds[t], 1 - 1e-10);
      int m = -1;
      for (size_t g = 0; g < num_gt; ++g) {
        if (gt_used[g] && !gt_crowd[g]) continue;
        if (m > -1 && !gt_ignore[m] && gt_ignore[g]) break;
        if (ious[d][g] < best) continue;
        best = ious[d][g];
        m = static_cast<int>(g);
      }
      if (m == -1) continue;
      e.ignored[d][t] = gt_ignore[m];
      e.matched[d][t] = true;
      gt_used[m] = true;
    }
  }
}

inline std::optional<CocoImageEval> CocoEvaluateImage(const CocoImage& im, int category) {
  std::vector<size_t> gt;
  for (size_t i = 0; i < im.gt_classes.size(); ++i) {
    if (im.gt_classes[i] == category) gt.push_back(i);
  }
  const std::vector<size_t> dt = CocoSortedDetections(im, category);
  if (gt.empty() && dt.empty()) return std::nullopt;
  auto ignored = [&](size_t i) { return im.gt_crowd[i] || CocoOutsideArea(im.gt[i].area); };
  std::stable_sort(gt.begin(), gt.end(), [&](size_t a, size_t b) { return !ignored(a) && ignored(b); });

  CocoImageEval e;
  std::vector<bool> gt_ignore, gt_crowd;
  for (size_t g : gt) {
    gt_ignore.push_back(ignored(g));
    gt_crowd.push_back(im.gt_crowd[g]);
    if (!ignored(g)) ++e.num_not_ignored_gt;
  }
  std::vector<std::vector<double>> ious(dt.size(), std::vector<double>(gt.size()));
  for (size_t d = 0; d < dt.size(); ++d) {
    e.scores.push_back(im.dt_scores[dt[d]]);
    for (size_t g = 0; g < gt.size(); ++g) ious[d][g] = CocoIou(im.dt[dt[d]], im.gt[gt[g]], im.gt_crowd[gt[g]]);
  }
  e.matched.assign(dt.size(), {});
  e.ignored.assign(dt.size(), {});
  if (!gt.empty()) CocoMatch(ious, gt_ignore, gt_crowd, e);
  // Unmatched detections outside the area range are ignored.
  for (size_t d = 0; d < dt.size(); ++d) {
    for (int t = 0; t < kCocoIouThresholds; ++t) {
      if (!e.matched[d][t] && CocoOutsideArea(im.dt[dt[d]].area)) e.ignored[d][t] = true;
    }
  }
  return e;
}

// accumulate() for one category: precision [T][R] and recall [T]; has_gt false = the -1 entries.
struct CocoCategoryCurve {
  bool has_gt = false;
  int num_gt = 0;
  std::array<std::array<double, kCocoRecallThresholds>, kCocoIouThresholds> precision{};
  std::array<double, kCocoIouThresholds> recall{};
};

// Precision at each recall threshold for one IoU threshold: the envelope, read by searchsorted.
inline std::array<double, kCocoRecallThresholds> CocoInterpolate(const std::vector<double>& rc, std::vector<double> pr) {
  static const std::array<double, kCocoRecallThresholds> kRecallThresholds = Linspace<kCocoRecallThresholds>(0.0, 1.0);
  for (size_t i = pr.size(); i-- > 1;) {
    if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
  }
  std::array<double, kCocoRecallThresholds> q{};
  for (int r = 0; r < kCocoRecallThresholds; ++r) {
    const size_t pos = static_cast<size_t>(std::lower_bound(rc.begin(), rc.end(), kRecallThresholds[r]) - rc.begin());
    if (pos >= pr.size()) break;  // the rest stay 0
    q[r] = pr[pos];
  }
  return q;
}

inline CocoCategoryCurve CocoAccumulate(const std::vector<CocoImageEval>& evals) {
  CocoCategoryCurve c;
  struct Ref {
    double score;
    size_t image, rank;
  };
  std::vector<Ref> dets;
  for (size_t i = 0; i < evals.size(); ++i) {
    c.num_gt += evals[i].num_not_ignored_gt;
    for (size_t d = 0; d < evals[i].scores.size(); ++d) dets.push_back({evals[i].scores[d], i, d});
  }
  if (evals.empty() || c.num_gt == 0) return c;
  c.has_gt = true;
  std::stable_sort(dets.begin(), dets.end(), [](const Ref& a, const Ref& b) { return a.score > b.score; });
  const double kEps = std::numeric_limits<double>::epsilon();  // np.spacing(1)
  for (int t = 0; t < kCocoIouThresholds; ++t) {
    std::vector<double> rc, pr;
    double tp = 0, fp = 0;
    for (const Ref& r : dets) {
      const CocoImageEval& e = evals[r.image];
      if (!e.ignored[r.rank][t]) (e.matched[r.rank][t] ? tp : fp) += 1;
      rc.push_back(tp / c.num_gt);
      pr.push_back(tp / (fp + tp + kEps));
    }
    c.recall[t] = rc.empty() ? 0 : rc.back();
    c.precision[t] = CocoInterpolate(rc, std::move(pr));
  }
  return c;
}

// Mean of the entries of the categories with groundtruth over the IoU indices [t0, t1).
inline double CocoMeanPrecision(const std::vector<CocoCategoryCurve>& curves, int t0, int t1) {
  double sum = 0;
  size_t count = 0;
  for (const CocoCategoryCurve& c : curves) {
    if (!c.has_gt) continue;
    for (int t = t0; t < t1; ++t) {
      for (double p : c.precision[t]) sum += p;
      count += kCocoRecallThresholds;
    }
  }
  return count == 0 ? -1 : sum / static_cast<double>(count);
}

inline double CocoMeanRecall(const std::vector<CocoCategoryCurve>& curves) {
  double sum = 0;
  size_t count = 0;
  for (const CocoCategoryCurve& c : curves) {
    if (!c.has_gt) continue;
    for (double r : c.recall) sum += r;
    count += kCocoIouThresholds;
  }
  return count == 0 ? -1 : sum / static_cast<double>(count);
}

}  // namespace detail

// Collects images, then computes the metrics over all of them. Images are merged in the order they
// were added (pycocotools: ascending image id), which only breaks ties between equal scores.
template <typename T>
class CocoEvaluator {
 public:
  // Requires: one class per box, is_crowd empty or one per box, one score and class per detection.
  void AddImage(const CocoGroundtruth<T>& gt, const ssd::Detections<T>& det) {
    CheckSizes(gt, det);
    detail::CocoImage im;
    for (Eigen::Index i = 0; i < gt.boxes.rows(); ++i) {
      im.gt.push_back(ToCoco(gt.boxes, i));
      // coco_tools: groundtruth area (ymax - ymin) * (xmax - xmin) in the box type.
      im.gt.back().area = static_cast<double>(
          static_cast<T>((gt.boxes(i, 2) - gt.boxes(i, 0)) * (gt.boxes(i, 3) - gt.boxes(i, 1))));
      im.gt_crowd.push_back(!gt.is_crowd.empty() && gt.is_crowd[static_cast<size_t>(i)]);
    }
    im.gt_classes = gt.classes;
    for (Eigen::Index i = 0; i < det.boxes.rows(); ++i) {
      im.dt.push_back(ToCoco(det.boxes, i));
      im.dt.back().area = im.dt.back().w * im.dt.back().h;  // loadRes: bb[2] * bb[3]
      im.dt_scores.push_back(static_cast<double>(det.scores(i)));
    }
    im.dt_classes = det.classes;
    images_.push_back(std::move(im));
  }

  size_t num_images() const { return images_.size(); }
  void Clear() { images_.clear(); }

  CocoMetrics Evaluate() const {
    const std::vector<int> categories = Categories();
    std::vector<detail::CocoCategoryCurve> curves;
    for (int k : categories) {
      std::vector<detail::CocoImageEval> evals;
      for (const detail::CocoImage& im : images_) {
        if (auto e = detail::CocoEvaluateImage(im, k)) evals.push_back(std::move(*e));
      }
      curves.push_back(detail::CocoAccumulate(evals));
    }
    CocoMetrics m;
    m.map = detail::CocoMeanPrecision(curves, 0, detail::kCocoIouThresholds);
    m.map50 = detail::CocoMeanPrecision(curves, 0, 1);
    m.map75 = detail::CocoMeanPrecision(curves, 5, 6);
    m.ar100 = detail::CocoMeanRecall(curves);
    for (size_t i = 0; i < categories.size(); ++i) {
      const std::vector<detail::CocoCategoryCurve> one{curves[i]};
      m.per_category.push_back({categories[i], curves[i].num_gt, detail::CocoMeanPrecision(one, 0, detail::kCocoIouThresholds),
                                detail::CocoMeanPrecision(one, 0, 1), detail::CocoMeanPrecision(one, 5, 6),
                                detail::CocoMeanRecall(one)});
    }
    return m;
  }

 private:
  static void CheckSizes(const CocoGroundtruth<T>& gt, const ssd::Detections<T>& det) {
    const auto g = static_cast<size_t>(gt.boxes.rows());
    if (gt.classes.size() != g || (!gt.is_crowd.empty() && gt.is_crowd.size() != g)) {
      throw ArgumentError("CocoEvaluator: " + std::to_string(g) + " groundtruth boxes but " +
                          std::to_string(gt.classes.size()) + " classes and " + std::to_string(gt.is_crowd.size()) +
                          " is_crowd flags");
    }
    const auto d = static_cast<size_t>(det.boxes.rows());
    if (det.classes.size() != d || static_cast<size_t>(det.scores.size()) != d) {
      throw ArgumentError("CocoEvaluator: " + std::to_string(d) + " detection boxes but " +
                          std::to_string(det.scores.size()) + " scores and " + std::to_string(det.classes.size()) +
                          " classes");
    }
  }

  // coco_tools._ConvertBoxToCOCOFormat: [xmin, ymin, xmax - xmin, ymax - ymin], differences in T.
  static detail::CocoBox ToCoco(const ssd::BoxMatrix<T>& b, Eigen::Index i) {
    detail::CocoBox c;
    c.x = static_cast<double>(b(i, 1));
    c.y = static_cast<double>(b(i, 0));
    c.w = static_cast<double>(static_cast<T>(b(i, 3) - b(i, 1)));
    c.h = static_cast<double>(static_cast<T>(b(i, 2) - b(i, 0)));
    return c;
  }

  std::vector<int> Categories() const {
    std::vector<int> out;
    for (const detail::CocoImage& im : images_) {
      out.insert(out.end(), im.gt_classes.begin(), im.gt_classes.end());
      out.insert(out.end(), im.dt_classes.begin(), im.dt_classes.end());
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  std::vector<detail::CocoImage> images_;
};

}  // namespace warmstart::train
