// Node -> capture point mapping and in-callback recording. Mapping table: docs/capture-points.md.
#include "capture.h"

#include <cstring>

#include "ggml-backend.h"

namespace rosetta_llama {

namespace {

// "Qcur-3" -> ("Qcur", 3); "embd" -> ("embd", -1); "cache_k_l0 (view)" -> (whole, -1).
void split_name(const char* name, std::string& base, int& il) {
  std::string s(name);
  il = -1;
  base = s;
  size_t dash = s.rfind('-');
  if (dash == std::string::npos || dash + 1 >= s.size()) return;
  for (size_t i = dash + 1; i < s.size(); i++)
    if (s[i] < '0' || s[i] > '9') return;
  base = s.substr(0, dash);
  il = std::stoi(s.substr(dash + 1));
}

// "blk.7.attn_output.weight" with suffix "attn_output.weight" -> 7, else -1.
int weight_layer(const std::string& w, const char* suffix) {
  if (w.compare(0, 4, "blk.") != 0) return -1;
  size_t dot = w.find('.', 4);
  if (dot == std::string::npos || w.compare(dot + 1, std::string::npos, suffix) != 0) return -1;
  try {
    return std::stoi(w.substr(4, dot - 4));
  } catch (...) {
    return -1;
  }
}

bool glob_match(const char* p, const char* s) {
  if (*p == '\0') return *s == '\0';
  if (*p == '*') return glob_match(p + 1, s) || (*s && glob_match(p, s + 1));
  return *s && *p == *s && glob_match(p + 1, s + 1);
}

float read_elem(const ggml_tensor* t, const char* base, size_t off) {
  if (t->type == GGML_TYPE_F32) {
    float v;
    std::memcpy(&v, base + off, sizeof v);
    return v;
  }
  ggml_fp16_t h;
  std::memcpy(&h, base + off, sizeof h);
  return ggml_fp16_to_fp32(h);
}

}  // namespace

void Capture::begin_step(int step, int firstPos, int tokens) {
  step_ = step, firstPos_ = firstPos, tokens_ = tokens;
  ubFirst_ = 0, ubTokens_ = 0;
  occurrences_.clear();
  pending_.clear();
  acc_.clear();
  order_.clear();
}

bool Capture::wants_full(const std::string& key) const {
  for (const auto& p : opts_.fullFilter)
    if (glob_match(p.c_str(), key.c_str())) return true;
  return false;
}

bool Capture::map_node(ggml_tensor* t, Pending& out) {
  std::string base;
  int il;
  split_name(t->name, base, il);
  if (base == "embd" && il < 0 && t->op == GGML_OP_GET_ROWS) {
    // the first node of every graph: a new (u)batch of this step's tokens starts here
    ubFirst_ += ubTokens_;
    ubTokens_ = t->ne[1];
    occurrences_.clear();
    pending_.clear();
    attnInputs_.clear();
  }
  const std::string op = ggml_op_desc(t);
  // Occurrence of this exact name, and of this name with this op (the mapping uses both).
  int occ = occurrences_[t->name]++;
  int occOp = occurrences_[std::string(t->name) + "\x1f" + op]++;
  std::string weight = (t->src[0] && t->op == GGML_OP_MUL_MAT) ? t->src[0]->name : "";
  const char* point = nullptr;
  int layer = il;
  if (base == "embd" && il < 0 && t->op == GGML_OP_GET_ROWS) point = "embd";
  else if (base == "attn_norm" && t->op == GGML_OP_MUL) point = "attn_norm";
  else if ((base == "Qcur" || base == "Kcur" || base == "Vcur") && t->op == GGML_OP_RESHAPE && occOp == 0)
    point = base == "Qcur" ? "q" : base == "Kcur" ? "k" : "v";
  else if (base == "Qcur" && t->op == GGML_OP_ROPE) point = "q_rope";
  else if (base == "Kcur" && t->op == GGML_OP_ROPE) point = "k_rope";
  else if (base == "kq_soft_max" && t->op == GGML_OP_SOFT_MAX) point = "kq_softmax";
  else if (base == "kqv_out" && occOp == 0) point = "attn";
  else if (base == "ffn_inp" && t->op == GGML_OP_ADD) point = "ffn_inp";
  else if (base == "ffn_norm" && t->op == GGML_OP_MUL) point = "ffn_norm";
  else if (base == "ffn_gate" && t->op == GGML_OP_MUL_MAT) point = "ffn_gate";
  else if (base == "ffn_up" && t->op == GGML_OP_MUL_MAT) point = "ffn_up";
  else if (base == "ffn_swiglu" && t->op == GGML_OP_GLU) point = "ffn_act";
  else if (base == "l_out" && t->op == GGML_OP_ADD) point = "l_out";
  else if (base == "result_norm" && il < 0 && t->op == GGML_OP_MUL) point = "result_norm";
  else if (base == "result_output" && il < 0 && t->op == GGML_OP_MUL_MAT) point = "logits";
  else if (!weight.empty()) {
    // o_proj and down_proj are found by their weight: qwen2/qwen3 leave o_proj unnamed, and llama's
    // `ffn_out-N` name is later reused for the residual.
    int lo = weight_layer(weight, "attn_output.weight"), ld = weight_layer(weight, "ffn_down.weight");
    if (lo >= 0) point = "attn_out", layer = lo;
    else if (ld >= 0) point = "ffn_out", layer = ld;
  }
  if (!point) return false;
  if (std::strcmp(point, "embd") == 0 || std::strcmp(point, "result_norm") == 0 || std::strcmp(point, "logits") == 0)
    layer = -1;
  out.point = point;
  out.layer = layer;
  out.src.name = t->name;
  out.src.occurrence = occ;
  out.src.op = op;
  out.src.type = ggml_type_name(t->type);
  out.src.ne.assign(t->ne, t->ne + GGML_MAX_DIMS);
  out.src.weight = weight;
  return true;
}

void Capture::record(ggml_tensor* t, const Pending& p, bool replace) {
  std::string key = p.layer >= 0 ? "blk." + std::to_string(p.layer) + "." + p.point : p.point;
  auto found = acc_.find(key);
  if (found == acc_.end()) {
    found = acc_.emplace(key, Acc{}).first;
    found->second.p = p;
    order_.push_back(key);
  }
  Acc& a = found->second;
  if (a.failed) return;
  if (replace && (p.point == "kq_softmax" || a.rows != ubFirst_ + ubTokens_)) return;
  auto fail = [&](const std::string& why) {
    errors.push_back(std::string(t->name) + ": " + why);
    a.failed = true;
  };
  if (t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16) return fail(std::string("unsupported type ") + ggml_type_name(t->type));
  const bool isSoftmax = p.point == "kq_softmax";
  const int64_t T = tokens_, U = ubTokens_;
  if (T <= 0 || U <= 0 || ubFirst_ + U > T) return fail("rows outside the step's tokens");
  int64_t ne0 = t->ne[0];
  if (isSoftmax) {
    // The KV window is padded; only the used cells [0, firstPos+T) carry probability mass (a row of an
    // earlier ubatch sees fewer cells: the rest of its row is exactly zero).
    if (t->ne[1] != U) return fail("unexpected kq_soft_max shape");
    ne0 = std::min<int64_t>(ne0, firstPos_ + T);
  }
  const int64_t n = ne0 * t->ne[1] * t->ne[2] * t->ne[3];
  if (!isSoftmax && n % U != 0) return fail("element count not a multiple of the token count");
  // On CPU every buffer is host memory; other backends (Vulkan, ...) need a copy from the device first.
  std::vector<char> host;
  const char* base = static_cast<const char*>(t->data);
  if (t->buffer && !ggml_backend_buffer_is_host(t->buffer)) {
    host.resize(ggml_nbytes(t));
    ggml_backend_tensor_get(t, host.data(), 0, host.size());
    base = host.data();
  }
  if (!base) return fail("no data");
  std::vector<float> out(n);
  size_t k = 0;
  for (int64_t i3 = 0; i3 < t->ne[3]; i3++)
    for (int64_t i2 = 0; i2 < t->ne[2]; i2++)
      for (int64_t i1 = 0; i1 < t->ne[1]; i1++) {
        size_t row = i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
        if (t->type == GGML_TYPE_F32 && t->nb[0] == sizeof(float)) {
          std::memcpy(&out[k], base + row, ne0 * sizeof(float));
          k += ne0;
        } else {
          for (int64_t i0 = 0; i0 < ne0; i0++) out[k++] = read_elem(t, base, row + i0 * t->nb[0]);
        }
      }
  if (isSoftmax) {
    const int64_t heads = t->ne[2] * t->ne[3], cols = firstPos_ + T;
    if (a.data.empty()) a.heads = heads, a.cols = cols, a.data.assign(heads * T * cols, 0.0f);
    if (a.heads != heads) return fail("kq_soft_max heads differ between ubatches");
    for (int64_t h = 0; h < heads; h++)
      for (int64_t i = 0; i < U; i++)
        std::memcpy(&a.data[(h * T + ubFirst_ + i) * cols], &out[(h * U + i) * ne0], ne0 * sizeof(float));
  } else if (replace) {
    if (n / U != a.width) return fail("o_proj input width differs from kqv_out");
    std::memcpy(&a.data[ubFirst_ * a.width], out.data(), n * sizeof(float));
    return;
  } else {
    const int64_t width = n / U;
    if (a.rows == 0) a.width = width, a.data.reserve(width * T);
    if (a.width != width || a.rows != ubFirst_) return fail("rows of this point came out of order or changed width between ubatches");
    a.data.insert(a.data.end(), out.begin(), out.end());
  }
  a.rows += U;
}

void Capture::end_step() {
  const int64_t T = tokens_;
  for (const std::string& key : order_) {
    Acc& a = acc_[key];
    if (a.failed) continue;
    if (a.rows != T) {
      errors.push_back(a.p.src.name + ": " + std::to_string(a.rows) + " of " + std::to_string(T) + " rows were computed");
      continue;
    }
    CapturedPoint cp;
    cp.point = a.p.point;
    cp.layer = a.p.layer;
    cp.step = step_;
    cp.firstPos = firstPos_;
    cp.tokens = tokens_;
    cp.source = a.p.src;
    const int64_t n = (int64_t)a.data.size();
    cp.all = rosetta::stats_f32(a.data.data(), n, 1);
    if (cp.point == "kq_softmax") {
      cp.shape = {a.heads, T, a.cols};
      scratch_.resize(a.heads * a.cols);
      for (int64_t h = 0; h < a.heads; h++)
        std::memcpy(&scratch_[h * a.cols], &a.data[(h * T + (T - 1)) * a.cols], a.cols * sizeof(float));
      cp.last = rosetta::stats_f32(scratch_.data(), a.heads * a.cols, 1);
    } else {
      cp.shape = {T, a.width};
      cp.last = rosetta::stats_f32(a.data.data() + (T - 1) * a.width, a.width, 1);
    }
    if (wants_full(key)) cp.data = std::move(a.data);
    std::vector<float>().swap(a.data);
    points.push_back(std::move(cp));
  }
  acc_.clear();
  order_.clear();
}

bool Capture::on_eval(ggml_tensor* t, bool ask) {
  if (ask) {
    askCalls++;
    Pending p;
    bool mapped = opts_.points && map_node(t, p);
    if (mapped) pending_[t] = std::move(p);
    return mapped || opts_.observeAll;
  }
  dataCalls++;
  auto it = pending_.find(t);
  if (it != pending_.end()) {
    // o_proj: its input is the attn point; read it again now, as consumed (with a quantized V cache the
    // values read at kqv_out's own callback are not what o_proj consumes: docs/conditions.md)
    if (it->second.point == "attn_out" && t->src[1]) {
      auto in = attnInputs_.find(it->second.layer);
      if (in != attnInputs_.end()) record(t->src[1], in->second, true);
    }
    if (it->second.point == "attn") attnInputs_[it->second.layer] = it->second;
    record(t, it->second);
    pending_.erase(it);
  }
  return true;
}

bool capture_eval_callback(ggml_tensor* t, bool ask, void* userData) {
  auto* c = static_cast<Capture*>(userData);
  // Called from inside ggml's scheduler: nothing may escape. Returning false in the data phase would
  // abort the compute, so a failure is recorded and the compute goes on.
  try {
    return c->on_eval(t, ask);
  } catch (const std::exception& e) {
    c->errors.push_back(std::string(t->name) + ": " + e.what());
  } catch (...) {
    c->errors.push_back(std::string(t->name) + ": unknown error");
  }
  return !ask;
}

}  // namespace rosetta_llama
