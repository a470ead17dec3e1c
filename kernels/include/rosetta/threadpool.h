// rosetta kernel library: a small persistent thread pool for the matmul and attention kernels.
//
// The calling thread takes part in every run, so a pool of size 1 has no worker threads and runs
// everything inline. Workers spin briefly before sleeping: a decode step issues hundreds of short
// matmuls, and a condition-variable wake-up per call would cost more than the work.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rosetta {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // total threads, caller included; clamped to [1, 256]
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_; }
  // Runs fn(task) for task in [0, nTasks), spread over the pool; returns when all are done.
  // Not reentrant: fn must not call run() on the same pool.
  void run(int nTasks, const std::function<void(int task)>& fn);

 private:
  void worker();
  void drain();

  int n_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  // (task count << 32) | next task index, in one word: a worker that arrives late from an earlier run
  // reads that run's count with its index and so can never take a task of the next run by mistake.
  std::atomic<uint64_t> state_{0};
  std::atomic<int> done_{0};
  std::atomic<int> sleeping_{0};
  const std::function<void(int)>* fn_ = nullptr;
  bool stop_ = false;
};

// The process-wide pool used by the kernels. Default size: std::thread::hardware_concurrency().
ThreadPool& default_pool();
// Replace the default pool with one of `threads` threads (0 = hardware default). Not thread-safe
// against a concurrent run(); call between forward passes.
void set_threads(int threads);
int get_threads();

}  // namespace rosetta
