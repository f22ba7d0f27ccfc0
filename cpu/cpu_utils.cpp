#include "cpu_utils.h"

#include <atomic>
#include <cstdlib>

namespace kiln::cpu {

Strides broadcast_strides(const Shape& in, const Shape& out) {
  Strides st(out.size(), 0);
  int64_t acc = 1;
  int off = static_cast<int>(out.size()) - static_cast<int>(in.size());
  for (int i = static_cast<int>(in.size()) - 1; i >= 0; --i) {
    st[i + off] = in[i] == 1 ? 0 : acc;
    acc *= in[i];
  }
  return st;
}

namespace {
// A fixed pool of worker threads; the calling thread takes the first chunk.
class Pool {
 public:
  Pool() {
    int n = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* e = std::getenv("KILN_CPU_THREADS")) n = std::atoi(e);
    n_ = std::max(1, std::min(n, 64));
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }
  // Runs f(0..chunks-1); the caller takes chunks too, so with more chunks than threads a
  // thread that is slowed down (a busy core) just ends up doing fewer of them.
  void run(int chunks, const std::function<void(int)>& f) {
    std::unique_lock<std::mutex> call(call_m_);  // one parallel region at a time
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &f;
      chunks_ = chunks;
      next_ = 0;
      pending_ = chunks;
      ++gen_;
    }
    cv_.notify_all();
    std::unique_lock<std::mutex> lk(m_);
    while (next_ < chunks_) {
      int c = next_++;
      lk.unlock();
      f(c);
      lk.lock();
      --pending_;
    }
    done_cv_.wait(lk, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop(int) {
    uint64_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lk(m_);
      cv_.wait(lk, [&] { return stop_ || (gen_ != seen && next_ < chunks_); });
      if (stop_) return;
      while (job_ && next_ < chunks_) {
        int c = next_++;
        auto* job = job_;
        lk.unlock();
        (*job)(c);
        lk.lock();
        if (--pending_ == 0) done_cv_.notify_all();
      }
      seen = gen_;
    }
  }
  int n_;
  std::vector<std::thread> workers_;
  std::mutex m_, call_m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  int chunks_ = 0, next_ = 0, pending_ = 0;
  uint64_t gen_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}
thread_local bool in_parallel = false;
}  // namespace

int num_threads() { return pool().size(); }

void parallel_for(size_t n, size_t min_per_thread, const std::function<void(size_t, size_t)>& f) {
  int t = num_threads();
  if (in_parallel || t <= 1 || n < 2 * min_per_thread) {
    f(0, n);
    return;
  }
  // up to 4 chunks per thread for load balance, each at least min_per_thread long
  int chunks = static_cast<int>(std::min<size_t>(4 * static_cast<size_t>(t), n / min_per_thread));
  size_t per = (n + chunks - 1) / chunks;
  std::function<void(int)> job = [&](int c) {
    size_t b = c * per, e = std::min(n, b + per);
    bool prev = in_parallel;
    in_parallel = true;
    if (b < e) f(b, e);
    in_parallel = prev;
  };
  pool().run(chunks, job);
}

}  // namespace kiln::cpu
