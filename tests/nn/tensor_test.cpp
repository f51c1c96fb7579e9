// TF's SAME/VALID window arithmetic, Parameter views and ParameterList, Context.
#include "warmstart/nn/tensor.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <vector>

#include "warmstart/nn/context.hpp"
#include "warmstart/nn/parameter.hpp"

using namespace warmstart::nn;

TEST_CASE("SAME padding follows TF: total = max((ceil(in/s)-1)*s + k - in, 0), odd pixel after",
          "[nn][tensor]") {
  // 300 -> 150, stride 2, k 3: (149*2 + 3 - 300) = 1 -> top 0, bottom 1.
  WindowAxis a = MakeWindowAxis(300, 3, 2, Padding::kSame);
  CHECK(a.out == 150);
  CHECK(a.pad_before == 0);
  CHECK(a.pad_after == 1);
  a = MakeWindowAxis(19, 3, 2, Padding::kSame);  // 19 -> 10: 9*2 + 3 - 19 = 2
  CHECK((a.out == 10 && a.pad_before == 1 && a.pad_after == 1));
  a = MakeWindowAxis(7, 3, 1, Padding::kSame);
  CHECK((a.out == 7 && a.pad_before == 1 && a.pad_after == 1));
  a = MakeWindowAxis(10, 1, 2, Padding::kSame);  // 1x1 never pads
  CHECK((a.out == 5 && a.pad_before == 0 && a.pad_after == 0));
  a = MakeWindowAxis(5, 5, 3, Padding::kSame);  // 1*3 + 5 - 5 = 3 -> 1 before, 2 after
  CHECK((a.out == 2 && a.pad_before == 1 && a.pad_after == 2));
  a = MakeWindowAxis(8, 3, 2, Padding::kValid);
  CHECK((a.out == 3 && a.pad_before == 0 && a.pad_after == 0));
  a = MakeWindowAxis(2, 3, 1, Padding::kValid);
  CHECK(a.out == 0);
  CHECK(ParsePadding("SAME") == Padding::kSame);
  CHECK_THROWS_WITH(ParsePadding("same"), "padding: expected \"SAME\" or \"VALID\", found \"same\"");
  CHECK_THROWS_WITH(MakeWindow({1, 0, 4, 3}, 3, 3, 1, 1, Padding::kSame, "L"),
                    "L: input shape [1, 0, 4, 3] has an empty dimension");
}

TEST_CASE("Parameter views, assignment and ParameterList", "[nn][parameter]") {
  Parameter<float> w = MakeTrainable<float>("Conv/weights", {1, 1, 2, 3});
  Parameter<float> m = MakeState<float>("BN/moving_mean", {3});
  CHECK(w.NumElements() == 6);
  CHECK(w.gradient.size() == 6);
  CHECK(m.gradient.size() == 0);
  const float data[] = {1, 2, 3, 4, 5, 6};
  w.Assign(data, {1, 1, 2, 3});
  CHECK(w.Value4()(0, 0, 1, 0) == 4);  // RowMajor: the bytes of a TF checkpoint tensor
  CHECK_THROWS_WITH(w.Assign(data, {1, 1, 3, 2}),
                    "parameter 'Conv/weights': cannot assign shape [1, 1, 3, 2] to shape [1, 1, 2, 3]");
  CHECK_THROWS_WITH(w.Value1(), "parameter 'Conv/weights': viewed as rank 1 but has shape [1, 1, 2, 3]");

  ParameterList<float> list;
  list.Add(&w);
  list.Add(&m);
  CHECK_THROWS_WITH(list.Add(&w), "parameter list: duplicate variable name 'Conv/weights'");
  CHECK(list.Find("BN/moving_mean") == &m);
  CHECK(list.Find("nope") == nullptr);
  CHECK_THROWS_AS(list.Get("nope"), warmstart::NotFoundError);
  const auto infos = list.Infos();
  CHECK(infos[0].dtype == warmstart::bundle::DataType::kFloat);
  CHECK(infos[0].shape == std::vector<int64_t>{1, 1, 2, 3});
  CHECK_FALSE(infos[1].trainable);
  w.gradient.setConstant(2);
  list.ZeroGradients();
  CHECK(w.gradient.isZero());
}

TEST_CASE("Context splits work into per-thread ranges", "[nn][context]") {
  Context ctx(2);
  CHECK(ctx.num_threads() == 2);
  std::vector<int> hits(101, 0);
  std::atomic<int> calls{0};
  ctx.ParallelFor(101, [&](int, Index begin, Index end) {
    ++calls;
    for (Index i = begin; i < end; ++i) ++hits[i];
  });
  CHECK(calls == 2);
  for (int h : hits) CHECK(h == 1);
  CHECK(ctx.Ranges(1) == 1);
  ctx.SetNumThreads(1);
  CHECK(ctx.Ranges(100) == 1);
  CHECK(Context(0).num_threads() >= 1);
  CHECK_THROWS_WITH(Context(-1), "Context: thread count must be >= 0 (0 = hardware concurrency), found -1");
}
