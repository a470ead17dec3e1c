#include "rosetta/threadpool.h"

#include <memory>

namespace rosetta {

namespace {
constexpr int kSpinIterations = 200000;  // ~100 us of polling before a worker sleeps

int clamp_threads(int n) {
  if (n <= 0) n = (int)std::thread::hardware_concurrency();
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  return n;
}
}  // namespace

ThreadPool::ThreadPool(int threads) : n_(clamp_threads(threads)) {
  for (int i = 1; i < n_; i++) threads_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::drain() {
  for (;;) {
    const uint64_t t = state_.fetch_add(1);
    const uint32_t task = (uint32_t)t, n = (uint32_t)(t >> 32);
    if (task >= n) return;
    (*fn_)((int)task);
    done_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::worker() {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && spins < kSpinIterations) spins++;
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      sleeping_.fetch_add(1);
      cv_.wait(lock, [&] { return generation_.load() != seen; });
      sleeping_.fetch_sub(1);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_) return;
    drain();
  }
}

void ThreadPool::run(int nTasks, const std::function<void(int)>& fn) {
  if (nTasks <= 0) return;
  if (n_ == 1 || nTasks == 1) {
    for (int t = 0; t < nTasks; t++) fn(t);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    done_.store(0);
    state_.store((uint64_t)nTasks << 32);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (sleeping_.load() > 0) cv_.notify_all();
  drain();
  while (done_.load(std::memory_order_acquire) < nTasks) std::this_thread::yield();
}

namespace {
std::unique_ptr<ThreadPool>& pool_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
}  // namespace

ThreadPool& default_pool() {
  auto& p = pool_slot();
  if (!p) p = std::make_unique<ThreadPool>(0);
  return *p;
}

void set_threads(int threads) {
  auto& p = pool_slot();
  const int n = clamp_threads(threads);
  if (p && p->size() == n) return;
  p.reset();
  p = std::make_unique<ThreadPool>(n);
}

int get_threads() { return default_pool().size(); }

}  // namespace rosetta
