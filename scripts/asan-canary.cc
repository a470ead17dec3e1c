// A deliberate bug for scripts/test-asan.js's self-check: built with the sanitizer flags of
// cmake/sanitize.cmake and dlopen'ed by Node under the test environment, its constructor commits the bug
// ROSETTA_CANARY names (asan: a heap read one past the end; ubsan: a signed overflow). The run must die
// with a report in the log folder, or the sanitizer setup would be reporting zero for the wrong reason.
#include <cstdlib>
#include <cstring>

__attribute__((constructor)) static void rosetta_canary() {
  const char* what = std::getenv("ROSETTA_CANARY");
  if (what == nullptr) return;
  volatile int sink = 0;
  if (std::strcmp(what, "asan") == 0) {
    int* p = static_cast<int*>(std::malloc(4 * sizeof(int)));
    sink = p[4];  // one past the end
    std::free(p);
  } else if (std::strcmp(what, "ubsan") == 0) {
    volatile int big = 0x7fffffff;
    sink = big + 1;  // signed overflow
  }
  (void)sink;
}
