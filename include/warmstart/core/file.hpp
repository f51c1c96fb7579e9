// Byte sources: where the bytes of an index or data file come from.
//
// A reader is templated over a *file system* type Fs with
//   using File = ...;                       // has ByteView bytes() and const std::string& path()
//   File Open(const std::string& path) const;   // throws NotFoundError / IoError
//   bool Exists(const std::string& path) const;
// Two are provided:
//   DiskFileSystem    read-only memory maps of files on disk (MappedFile, RAII)
//   MemoryFileSystem  caller-owned buffers registered under a path (zero copy)
#pragma once

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <algorithm>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"

namespace warmstart::core {

namespace detail {

// Closes a file descriptor when it goes out of scope.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

[[noreturn]] inline void ThrowErrno(const std::string& path, const std::string& what, int err) {
  const std::string message = what + ": " + std::strerror(err);
  if (err == ENOENT) throw NotFoundError(ErrorContext(path), message);
  throw IoError(ErrorContext(path), message);
}

}  // namespace detail

// A whole file mapped read-only. Empty files map to an empty view.
class MappedFile {
 public:
  static MappedFile Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) detail::ThrowErrno(path, "cannot open file", errno);
    detail::FdCloser closer(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) detail::ThrowErrno(path, "cannot stat file", errno);
    if (!S_ISREG(st.st_mode)) throw IoError(ErrorContext(path), "not a regular file");
    MappedFile f;
    f.path_ = path;
    f.size_ = static_cast<size_t>(st.st_size);
    if (f.size_ == 0) return f;
    void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) detail::ThrowErrno(path, "cannot mmap file", errno);
    f.data_ = p;
    return f;
  }

  MappedFile(MappedFile&& o) noexcept { *this = std::move(o); }
  MappedFile& operator=(MappedFile&& o) noexcept {
    if (this != &o) {
      Unmap();
      path_ = std::move(o.path_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() { Unmap(); }

  ByteView bytes() const { return ByteView(static_cast<const uint8_t*>(data_), size_); }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  void Unmap() {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
  }

  std::string path_;
  void* data_ = nullptr;
  size_t size_ = 0;
};

// A file read with pread through a caller's buffer: for one pass over data that is not
// kept (verification). Mapping costs a page-table entry per 4 KiB page on first touch,
// which makes a mapped pass slower than read() copying into a cache-resident buffer.
class StreamedFile {
 public:
  static StreamedFile Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) detail::ThrowErrno(path, "cannot open file", errno);
    StreamedFile f(path, fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) detail::ThrowErrno(path, "cannot stat file", errno);
    if (!S_ISREG(st.st_mode)) throw IoError(ErrorContext(path), "not a regular file");
    f.size_ = static_cast<uint64_t>(st.st_size);
    return f;
  }
  StreamedFile(StreamedFile&& o) noexcept : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), size_(o.size_) {}
  StreamedFile& operator=(StreamedFile&& o) noexcept {
    std::swap(path_, o.path_);
    std::swap(fd_, o.fd_);
    std::swap(size_, o.size_);
    return *this;
  }
  StreamedFile(const StreamedFile&) = delete;
  StreamedFile& operator=(const StreamedFile&) = delete;
  ~StreamedFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Calls fn(ByteView) on consecutive chunks of [offset, offset + n), each at most
  // buffer->size() bytes. Requires: offset + n <= size(), !buffer->empty().
  template <class Fn>
  void ForEachChunk(uint64_t offset, uint64_t n, std::vector<uint8_t>* buffer, Fn&& fn) const {
    while (n > 0) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(n, buffer->size()));
      const ssize_t got = ::pread(fd_, buffer->data(), want, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) detail::ThrowErrno(path_, "cannot read file", errno);
      if (got == 0) throw IoError(ErrorContext(path_, offset), "file ended early (truncated while being read?)");
      fn(ByteView(buffer->data(), static_cast<size_t>(got)));
      offset += static_cast<uint64_t>(got);
      n -= static_cast<uint64_t>(got);
    }
  }

 private:
  StreamedFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

struct DiskFileSystem {
  using File = MappedFile;
  using StreamedFile = core::StreamedFile;
  StreamedFile OpenStreamed(const std::string& path) const { return StreamedFile::Open(path); }
  File Open(const std::string& path) const { return MappedFile::Open(path); }
  bool Exists(const std::string& path) const {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }
};

// A caller-owned buffer seen as a file. Does not own the bytes.
class MemoryFile {
 public:
  MemoryFile(std::string path, ByteView bytes) : path_(std::move(path)), bytes_(bytes) {}
  ByteView bytes() const { return bytes_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  ByteView bytes_;
};

// Paths mapped to caller-owned buffers. Requires: the buffers outlive every
// reader opened on this file system.
class MemoryFileSystem {
 public:
  using File = MemoryFile;

  void Add(const std::string& path, ByteView bytes) { files_[path] = bytes; }
  void Add(const std::string& path, const std::string& bytes) {
    files_[path] = ByteView(bytes.data(), bytes.size());
  }
  // The file system only points at the bytes: a temporary would dangle at once.
  void Add(const std::string& path, std::string&& bytes) = delete;
  File Open(const std::string& path) const {
    auto it = files_.find(path);
    if (it == files_.end()) throw NotFoundError(ErrorContext(path), "no such file in memory file system");
    return MemoryFile(path, it->second);
  }
  bool Exists(const std::string& path) const { return files_.count(path) != 0; }

 private:
  std::map<std::string, ByteView> files_;
};

}  // namespace warmstart::core
