// The thread pool shared by every instruction-set copy of the kernels (compiled once, baseline flags).
#pragma once

namespace vk {

/** Threads used by the kernels (1 .. hardware concurrency); the pool is created on first use. */
void set_threads(int n);
int threads();

/** Runs fn(0..parts-1) over the pool (part 0 on the caller) and waits for all of them. */
void parallel_for(int parts, void (*fn)(void*, int), void* ctx);

}  // namespace vk
