// The eval callback: maps llama.cpp graph nodes to rosetta's canonical capture points
// (docs/capture-points.md) and records summaries (and, on request, full f32 values) while the data is
// valid, i.e. inside the callback.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ggml.h"
#include "rosetta/reduce.h"

namespace rosetta_llama {

struct CaptureOptions {
  bool observeAll = false;              // ask for every node (tests: tracing must not perturb numerics)
  std::vector<std::string> fullFilter;  // glob patterns over point keys whose full values are kept
  bool points = true;                   // record canonical points at all
};

struct NodeSource {
  std::string name;
  int occurrence = 0;
  std::string op;
  std::string type;
  std::vector<int64_t> ne;  // ggml order (ne[0] fastest), as the node had it
  std::string weight;       // src[0] name for matmuls, else empty
};

struct CapturedPoint {
  std::string point;  // canonical point name
  int layer = -1;     // -1: global point
  int step = 0;
  std::vector<int64_t> shape;  // row-major, outermost first
  int firstPos = 0, tokens = 0;
  rosetta::Stats all{}, last{};
  NodeSource source;
  std::vector<float> data;  // row-major, when requested
};

class Capture {
 public:
  explicit Capture(CaptureOptions opts) : opts_(std::move(opts)) {}
  // Called before each step's llama_decode call(s): the step's tokens may be computed as several graphs
  // (batches of n_batch, ubatches of n_ubatch); each point's rows are gathered across them and the point
  // is recorded by end_step(), in the order its first rows came.
  void begin_step(int step, int firstPos, int tokens);
  void end_step();
  bool on_eval(ggml_tensor* t, bool ask);

  std::vector<CapturedPoint> points;
  int askCalls = 0, dataCalls = 0;
  std::vector<std::string> errors;  // non-fatal: a node that could not be read (recorded, never thrown)

 private:
  struct Pending {
    std::string point;
    int layer;
    NodeSource src;
  };
  bool map_node(ggml_tensor* t, Pending& out);
  // replace: overwrite this ubatch's rows of the point (already recorded) with t's current values
  void record(ggml_tensor* t, const Pending& p, bool replace = false);
  bool wants_full(const std::string& key) const;

  struct Acc {
    Pending p;
    std::vector<float> data;
    int64_t width = 0, rows = 0, heads = 0, cols = 0;  // cols, heads: kq_softmax only
    bool failed = false;
  };
  std::map<std::string, Acc> acc_;
  std::vector<std::string> order_;

  CaptureOptions opts_;
  int step_ = 0, firstPos_ = 0, tokens_ = 0;
  int64_t ubFirst_ = 0, ubTokens_ = 0;  // the current graph's first row within the step, and its rows
  std::map<std::string, int> occurrences_;
  std::map<const ggml_tensor*, Pending> pending_;
  // attn (kqv_out) per layer of the current graph: re-read as o_proj's input (src[1]) when o_proj is
  // evaluated, i.e. what it consumed (with a quantized V cache o_proj reads another view of the attention
  // output than the node named kqv_out, whose values then differ: docs/conditions.md)
  std::map<int, Pending> attnInputs_;
  std::vector<float> scratch_;
};

// The callback registered as llama_context_params.cb_eval; user data is a Capture*.
bool capture_eval_callback(ggml_tensor* t, bool ask, void* userData);

}  // namespace rosetta_llama
