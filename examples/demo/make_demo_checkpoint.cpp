// Writes a small TF1-style checkpoint bundle (SSD/MobileNet variable names) for the
// demo, using the library's table builder and proto encoders directly:
//
//   PREFIX.data-00000-of-00001   payloads back to back, in name order (like tf.train.Saver)
//   PREFIX.index                 "" -> header, name -> BundleEntryProto {dtype, shape, offset, size, crc}
//
// Usage: make_demo_checkpoint PREFIX
// (The full BundleWriter, with temp files, fsync and merges, is a library feature of its own.)
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <warmstart/warmstart.hpp>

namespace ws = warmstart;

namespace {

struct Tensor {
  std::string name;
  ws::bundle::DataType dtype;
  ws::bundle::TensorShape shape;
  std::string bytes;  // little-endian elements
};

Tensor FloatTensor(const std::string& name, ws::bundle::TensorShape shape, float scale) {
  std::string bytes;
  for (int64_t i = 0; i < shape.num_elements(); ++i) {
    const float v = scale * std::sin(0.37f * static_cast<float>(i) + static_cast<float>(name.size()));
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  return {name, ws::bundle::DataType::kFloat, std::move(shape), std::move(bytes)};
}

Tensor Int64Scalar(const std::string& name, int64_t v) {
  return {name, ws::bundle::DataType::kInt64, {}, std::string(reinterpret_cast<const char*>(&v), sizeof v)};
}

std::vector<Tensor> DemoTensors() {
  const std::string fe = "FeatureExtractor/MobilenetV1/";
  const std::string bp = "BoxPredictor_0/";
  return {
      FloatTensor(fe + "Conv2d_0/weights", {3, 3, 3, 8}, 0.2f),
      FloatTensor(fe + "Conv2d_0/BatchNorm/gamma", {8}, 1.0f),
      FloatTensor(fe + "Conv2d_0/BatchNorm/beta", {8}, 0.1f),
      FloatTensor(fe + "Conv2d_0/BatchNorm/moving_mean", {8}, 0.05f),
      FloatTensor(fe + "Conv2d_0/BatchNorm/moving_variance", {8}, 1.0f),
      FloatTensor(fe + "Conv2d_1_depthwise/depthwise_weights", {3, 3, 8, 1}, 0.3f),
      FloatTensor(fe + "Conv2d_1_pointwise/weights", {1, 1, 8, 16}, 0.25f),
      FloatTensor(bp + "BoxEncodingPredictor/weights", {1, 1, 16, 12}, 0.1f),
      FloatTensor(bp + "BoxEncodingPredictor/biases", {12}, 0.01f),
      FloatTensor(bp + "ClassPredictor/weights", {1, 1, 16, 273}, 0.1f),
      FloatTensor(bp + "ClassPredictor/biases", {273}, 0.01f),
      Int64Scalar("global_step", 20000),
  };
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw ws::IoError(ws::ErrorContext(path), "cannot write file");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_demo_checkpoint PREFIX\n";
    return 2;
  }
  const std::string prefix = argv[1];
  try {
    std::filesystem::create_directories(std::filesystem::path(prefix).parent_path());
    std::vector<Tensor> tensors = DemoTensors();
    std::sort(tensors.begin(), tensors.end(), [](const Tensor& a, const Tensor& b) { return a.name < b.name; });
    std::string data;
    ws::sstable::TableBuilder table;
    ws::proto::BundleHeader header;
    header.num_shards = 1;
    header.version.producer = 1;
    table.Add("", ws::core::ByteView(ws::proto::EncodeBundleHeader(header)));
    for (const Tensor& t : tensors) {
      ws::proto::BundleEntry e;
      e.dtype = static_cast<int32_t>(t.dtype);
      e.shape = t.shape.ToProto();
      e.offset = static_cast<int64_t>(data.size());
      e.size = static_cast<int64_t>(t.bytes.size());
      e.crc32c = ws::core::crc32c::Mask(ws::core::crc32c::Value(ws::core::ByteView(t.bytes)));
      data += t.bytes;
      table.Add(t.name, ws::core::ByteView(ws::proto::EncodeBundleEntry(e)));
    }
    WriteFile(ws::bundle::DataFilename(prefix, 0, 1), data);
    WriteFile(ws::bundle::MetaFilename(prefix), table.Finish());
    std::cout << "wrote " << tensors.size() << " tensors to " << prefix << " (.index + .data-00000-of-00001)\n";
  } catch (const std::exception& e) {
    std::cerr << "make_demo_checkpoint: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
