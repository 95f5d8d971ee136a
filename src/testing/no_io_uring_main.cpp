// katsubushi-test-no-io-uring PROGRAM [ARGS...]: runs PROGRAM as a container
// whose seccomp profile refuses io_uring would (Docker's default profile
// does): io_uring_setup fails with EPERM, every other call is allowed. A
// test tool (the daemon tests' launch wrapper); never installed.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace {

#if defined(__x86_64__)
constexpr std::uint32_t kThisArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t kThisArch = AUDIT_ARCH_AARCH64;
#else
#error "katsubushi-test-no-io-uring: add this architecture's AUDIT_ARCH_"
#endif

constexpr sock_filter statement(std::uint16_t code, std::uint32_t k) { return {code, 0, 0, k}; }
constexpr sock_filter jump_if_equal(std::uint32_t k, std::uint8_t if_true, std::uint8_t if_false) {
  return {BPF_JMP | BPF_JEQ | BPF_K, if_true, if_false, k};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: katsubushi-test-no-io-uring PROGRAM [ARGS...]\n", stderr);
    return 2;
  }
  const std::array<sock_filter, 6> filter = {
      // Another architecture's calls (i386 on x86_64) are let through.
      statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      jump_if_equal(kThisArch, 0, 3),
      statement(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      jump_if_equal(__NR_io_uring_setup, 0, 1),
      statement(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  const sock_fprog program{static_cast<unsigned short>(filter.size()),
                           const_cast<sock_filter*>(filter.data())};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    std::perror("katsubushi-test-no-io-uring: seccomp");
    return 125;
  }
  ::execvp(argv[1], argv + 1);
  std::perror("katsubushi-test-no-io-uring: exec");
  return 127;
}
