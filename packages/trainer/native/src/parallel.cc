// The kernels' thread pool. Compiled once with the baseline flags: only the kernel sources are compiled
// per instruction set (see isa.h).
#include "parallel.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace vk {
namespace {

// A small pool: workers sleep on a condition variable between jobs (no spinning, so an idle trainer does
// not steal cycles from the rest of the machine).
class Pool {
 public:
  explicit Pool(int n) : size_(n) {
    for (int t = 1; t < n; t++) workers_.emplace_back([this, t] { loop(t); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      gen_++;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int size() const { return size_; }
  // Thread t runs parts t, t + size, t + 2 size, ... (the caller is thread 0).
  void run(int parts, void (*fn)(void*, int), void* ctx) {
    const int used = std::min(parts, size_);
    if (used <= 1) {
      for (int p = 0; p < parts; p++) fn(ctx, p);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = fn;
      ctx_ = ctx;
      parts_ = parts;
      pending_ = used - 1;
      gen_++;
    }
    cv_.notify_all();
    for (int p = 0; p < parts; p += size_) fn(ctx, p);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return pending_ == 0; });
  }

 private:
  void loop(int t) {
    int64_t seen = 0;
    for (;;) {
      void (*fn)(void*, int);
      void* ctx;
      int parts;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return gen_ != seen; });
        seen = gen_;
        if (stop_) return;
        if (t >= parts_) continue;
        fn = fn_;
        ctx = ctx_;
        parts = parts_;
      }
      for (int p = t; p < parts; p += size_) fn(ctx, p);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }
  int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  int parts_ = 0, pending_ = 0;
  int64_t gen_ = 0;
  bool stop_ = false;
};

int wanted_threads() {
  if (const char* env = std::getenv("VAEKIT_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

int g_threads = 0;
Pool* g_pool = nullptr;
// One caller at a time uses the pool (the addon may be loaded by several worker_threads); a caller that
// finds it busy runs its parts itself.
std::mutex g_run_mu;

Pool& pool() {
  if (!g_threads) g_threads = wanted_threads();
  if (!g_pool || g_pool->size() != g_threads) {
    delete g_pool;
    g_pool = new Pool(g_threads);
  }
  return *g_pool;
}

}  // namespace

void set_threads(int n) { g_threads = std::max(1, n); }
int threads() {
  if (!g_threads) g_threads = wanted_threads();
  return g_threads;
}

void parallel_for(int parts, void (*fn)(void*, int), void* ctx) {
  std::unique_lock<std::mutex> lock(g_run_mu, std::try_to_lock);
  if (!lock.owns_lock()) {
    for (int p = 0; p < parts; p++) fn(ctx, p);
    return;
  }
  pool().run(parts, fn, ctx);
}

}  // namespace vk
