#pragma once
// The files the shell and the command line write and read, with every OS error caught and
// named: a file written is complete or not there at all, and a directory or an unreadable file
// given as input is refused with the reason.
#include <expected>
#include <memory>
#include <ostream>
#include <string>

namespace pmdb::shell {

// A named output file. A regular file (or a name that does not exist yet) is written to a
// temporary in the same directory, renamed over the target by commit() once everything was
// written and flushed: a reader never sees half of it, and after a failure an existing target is
// unchanged. The temporary is unnamed (O_TMPFILE) until commit() where the file system allows,
// so that a pmdb killed while writing leaves nothing behind. Anything else (a terminal, a pipe, /dev/full, /dev/stdout) cannot be renamed over
// and is written directly. Every write is checked; the first failure is kept and said by
// error() and commit() as "cannot write to PATH: REASON" (REASON is the OS's, e.g. "No space
// left on device").
class output_file {
 public:
  // Refuses a directory, or a path that cannot be created, with the same kind of message.
  static std::expected<std::unique_ptr<output_file>, std::string> open(const std::string& path);

  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;
  // Without a successful commit(), the temporary is removed and the target left as it was.
  ~output_file();

  std::ostream& stream();
  const std::string& path() const { return path_; }
  // The first write failure so far ("cannot write to PATH: REASON"), or empty.
  std::string error() const;
  // Flushes, closes and renames the temporary over the target. After a failure the temporary
  // is removed. Idempotent: a second call returns the first result.
  std::expected<void, std::string> commit();
  // Removes the temporary without touching the target (a direct file is just closed).
  void discard();

 private:
  struct impl;
  explicit output_file(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  std::string path_;
};

// What the process's standard output is called in messages: "standard output", with the file
// it is connected to when that has a name ("standard output (/dev/full)").
std::string stdout_name();

// Flushes stdout (the C stream std::cout writes through) and says whether any write to it
// failed: "cannot write to standard output (/dev/full): No space left on device", else empty.
// `saved_errno` is the OS error of an earlier failure, when known (0: unknown).
std::string stdout_failure(int saved_errno = 0);

// The whole content of an input file, refusing a directory ("X is a directory") and reporting
// the OS error of an unreadable file ("cannot read X: Permission denied").
std::expected<std::string, std::string> read_input_file(const std::string& path);

// Checks that `path` can be opened for reading and is not a directory, with the messages of
// read_input_file; for inputs read as a stream.
std::expected<void, std::string> check_input_file(const std::string& path);

// The same for standard input ("standard input is a directory" after `< dir`).
std::expected<void, std::string> check_stdin();
std::expected<std::string, std::string> read_stdin();

}  // namespace pmdb::shell
