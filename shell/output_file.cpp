#include "shell/output_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <streambuf>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace pmdb::shell {

namespace {

std::string os_error(int e) { return std::strerror(e); }

// A stream buffer on a file descriptor that keeps the first OS error of a write (std::filebuf
// loses it): what makes "No space left on device" reach the message.
class fd_buf : public std::streambuf {
 public:
  explicit fd_buf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
  int error() const { return errno_; }
  // Writes what is buffered; false (and error() set) when the OS refused.
  bool drain() {
    if (errno_) return false;
    const char* p = pbase();
    while (p < pptr()) {
      const ssize_t n = ::write(fd_, p, static_cast<std::size_t>(pptr() - p));
      if (n < 0) {
        if (errno == EINTR) continue;
        errno_ = errno;
        return false;
      }
      p += n;
    }
    setp(buf_, buf_ + sizeof buf_);
    return true;
  }

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  int fd_;
  int errno_ = 0;
  char buf_[1 << 16];
};

// Paths under /dev and /proc name devices and other processes' files (/dev/stdout is a regular
// file when stdout is redirected to one): written in place, never replaced by a rename.
bool is_special_path(const std::string& path) {
  return path.starts_with("/dev/") || path.starts_with("/proc/");
}

// The file a chain of symlinks ends at, even when it does not exist yet (realpath needs it to):
// what the temporary replaces, so that a symlink stays one. `path` itself when it is no symlink.
std::string follow_symlinks(std::string path) {
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) break;
    std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
    const ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n <= 0 || static_cast<std::size_t>(n) >= target.size()) break;
    target.resize(static_cast<std::size_t>(n));
    const std::filesystem::path link(path);
    path =
        target.starts_with('/') || !link.has_parent_path() ? target : (link.parent_path() / target).string();
  }
  return path;
}

// Replaces the trailing XXXXXX of `name` with random letters and digits, as mkstemp does.
bool random_suffix(std::string& name) {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char bytes[6];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) return false;
  for (std::size_t i = 0; i < 6; ++i) name[name.size() - 6 + i] = alphabet[bytes[i] % (sizeof alphabet - 1)];
  return true;
}

}  // namespace

struct output_file::impl {
  int fd = -1;
  std::string temp;    // the named temporary beside the target; empty when written directly
  std::string target;  // what the temporary is renamed to (a symlink's target, resolved)
  bool unnamed = false;  // fd is an O_TMPFILE file in target's directory, named only by commit()
  fd_buf buf;
  std::ostream os;
  std::optional<std::expected<void, std::string>> result;  // set by commit()

  impl(int f, std::string t, std::string tg)
      : fd(f), temp(std::move(t)), target(std::move(tg)), buf(f), os(&buf) {}
};

output_file::output_file(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

output_file::~output_file() { discard(); }

std::expected<std::unique_ptr<output_file>, std::string> output_file::open(const std::string& path) {
  const auto fail = [&](int e) -> std::unexpected<std::string> {
    return std::unexpected(fmt::format("cannot write to {}: {}", path, os_error(e)));
  };
  if (path.empty()) return fail(ENOENT);
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) return fail(EISDIR);
  std::unique_ptr<impl> p;
  if ((exists && !S_ISREG(st.st_mode)) || is_special_path(path)) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return fail(errno);
    p = std::make_unique<impl>(fd, "", path);
  } else {
    std::string target = follow_symlinks(path);  // a symlink stays one: its target is replaced
    const std::filesystem::path t(target);
    const std::filesystem::path dir = t.has_parent_path() ? t.parent_path() : std::filesystem::path(".");
    std::string temp = (dir / fmt::format(".{}.pmdb-XXXXXX", t.filename().string())).string();
    // An unnamed file (O_TMPFILE) leaves nothing behind when pmdb is killed while writing (a
    // long `.output`); it is given a name by commit(), through /proc. Where the file system
    // or /proc does not allow that, a named temporary.
    bool unnamed = false;
    int fd = -1;
    if (::access("/proc/self/fd", X_OK) == 0) {
      fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
      unnamed = fd >= 0;
    }
    if (fd < 0) fd = ::mkostemp(temp.data(), O_CLOEXEC);
    if (fd < 0) return fail(errno);
    // The file gets the mode it would have had if written in place (mkostemp makes it 0600).
    mode_t mode = 0;
    if (exists) {
      mode = st.st_mode & 07777;
    } else {
      const mode_t mask = ::umask(0);
      ::umask(mask);
      mode = 0666 & ~mask;
    }
    if (::fchmod(fd, mode) != 0) {
      const int e = errno;
      ::close(fd);
      if (!unnamed) ::unlink(temp.c_str());
      return fail(e);
    }
    p = std::make_unique<impl>(fd, std::move(temp), std::move(target));
    p->unnamed = unnamed;
  }
  std::unique_ptr<output_file> f(new output_file(std::move(p)));
  f->path_ = path;
  return f;
}

std::ostream& output_file::stream() { return impl_->os; }

std::string output_file::error() const {
  if (impl_->result && !*impl_->result) return impl_->result->error();
  if (impl_->buf.error()) return fmt::format("cannot write to {}: {}", path_, os_error(impl_->buf.error()));
  return {};
}

std::expected<void, std::string> output_file::commit() {
  if (impl_->result) return *impl_->result;
  const auto fail = [&](int e) {
    impl_->result = std::unexpected(fmt::format("cannot write to {}: {}", path_, os_error(e)));
    if (impl_->fd >= 0) ::close(impl_->fd);
    impl_->fd = -1;
    if (!impl_->temp.empty() && !impl_->unnamed) ::unlink(impl_->temp.c_str());
    return *impl_->result;
  };
  impl_->os.flush();
  if (!impl_->buf.drain()) return fail(impl_->buf.error());
  if (!impl_->os) return fail(EIO);  // a formatting failure of the stream itself
  if (impl_->unnamed) {
    // The unnamed file gets the temporary's name (a fresh one each try), then is renamed.
    const std::string proc = fmt::format("/proc/self/fd/{}", impl_->fd);
    std::string name;
    int e = EEXIST;
    for (int tries = 0; tries < 100 && e == EEXIST; ++tries) {
      name = impl_->temp;
      if (!random_suffix(name)) return fail(errno);
      e = ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
    }
    if (e != 0) return fail(e);
    impl_->temp = std::move(name);
    impl_->unnamed = false;
  }
  const int fd = impl_->fd;
  impl_->fd = -1;
  if (::close(fd) != 0) {
    const int e = errno;
    if (!impl_->temp.empty()) ::unlink(impl_->temp.c_str());
    impl_->result = std::unexpected(fmt::format("cannot write to {}: {}", path_, os_error(e)));
    return *impl_->result;
  }
  if (!impl_->temp.empty() && ::rename(impl_->temp.c_str(), impl_->target.c_str()) != 0) return fail(errno);
  impl_->result = std::expected<void, std::string>{};
  return *impl_->result;
}

void output_file::discard() {
  if (!impl_ || impl_->result) return;
  if (impl_->fd >= 0) ::close(impl_->fd);
  impl_->fd = -1;
  if (!impl_->temp.empty() && !impl_->unnamed) ::unlink(impl_->temp.c_str());
  impl_->result = std::unexpected(fmt::format("{}: not written", path_));
}

std::string stdout_name() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/fd/1", buf, sizeof buf - 1);
  if (n > 0 && buf[0] == '/')
    return fmt::format("standard output ({})", std::string_view(buf, static_cast<std::size_t>(n)));
  return "standard output";
}

std::string stdout_failure(int saved_errno) {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int e = errno;
  if (flushed && !std::ferror(stdout)) return {};
  const int code = !flushed && e ? e : saved_errno;
  std::clearerr(stdout);  // said once; a later write is checked afresh
  return fmt::format("cannot write to {}: {}", stdout_name(),
                     code ? os_error(code) : std::string("a write failed"));
}

namespace {

// Opens `path` for reading, refusing a directory; the descriptor or the message.
std::expected<int, std::string> open_input(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(fmt::format("cannot read {}: {}", path, os_error(errno)));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return std::unexpected(fmt::format("{} is a directory", path));
  }
  return fd;
}

}  // namespace

namespace {

std::expected<std::string, std::string> read_all(int fd, std::string_view name) {
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(fmt::format("cannot read {}: {}", name, os_error(errno)));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

}  // namespace

std::expected<std::string, std::string> read_input_file(const std::string& path) {
  auto fd = open_input(path);
  if (!fd) return std::unexpected(fd.error());
  auto text = read_all(*fd, path);
  ::close(*fd);
  return text;
}

std::expected<void, std::string> check_stdin() {
  struct stat st {};
  if (::fstat(STDIN_FILENO, &st) == 0 && S_ISDIR(st.st_mode))
    return std::unexpected("standard input is a directory");
  return {};
}

std::expected<std::string, std::string> read_stdin() {
  if (auto ok = check_stdin(); !ok) return std::unexpected(ok.error());
  return read_all(STDIN_FILENO, "standard input");
}

std::expected<void, std::string> check_input_file(const std::string& path) {
  auto fd = open_input(path);
  if (!fd) return std::unexpected(fd.error());
  ::close(*fd);
  return {};
}

}  // namespace pmdb::shell
