#pragma once
// The storage module's I/O seam (LevelDB's Env idea): every file and directory operation
// of the log goes through FileSystem, so tests can substitute a FaultInjectionFileSystem
// that loses unsynced data, tears writes, fills the disk or fails reads.
//
// Errors are absl::Status values: kResourceExhausted for a full disk (ENOSPC), kDataLoss
// for EIO, kNotFound for a missing file, kAlreadyExists, kUnavailable for a held lock,
// kInternal otherwise; the message names the path and the OS error.
//
// Objects are not thread-safe: one File belongs to one owner (its partition's event loop
// or a worker the loop hands it to). FileSystem methods may be called from any thread.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fjord::storage {

class File {
 public:
  virtual ~File() = default;
  // Writes all of data at offset (extending the file when needed).
  virtual absl::Status WriteAt(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Reads up to out.size() bytes at offset; returns the count read (short at end of file).
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const = 0;
  // Makes everything written so far durable (fdatasync).
  virtual absl::Status Sync() = 0;
  virtual absl::Status Truncate(uint64_t size) = 0;
  virtual absl::StatusOr<uint64_t> Size() const = 0;
  // The OS descriptor for sendfile, or -1 when the file is not backed by one.
  virtual int NativeHandle() const { return -1; }
  virtual const std::string& path() const = 0;
};

// A held advisory lock on a data directory; released on destruction.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens for reading and writing, creating the file if `create` (else kNotFound).
  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, bool create) = 0;
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  virtual absl::Status RemoveDirRecursive(const std::string& path) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual absl::Status SyncDir(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory, unsorted.
  virtual absl::StatusOr<std::vector<std::string>> List(const std::string& path) = 0;
  // Takes an exclusive lock on `path` (created if needed); kUnavailable if another process
  // (or another lock in this one) holds it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;

  // Writes a whole file atomically: temp file, write, fsync, rename over `path`, fsync
  // the directory. After a crash the file holds either the old or the new content.
  absl::Status WriteFileAtomically(const std::string& path, std::span<const uint8_t> data);
  absl::StatusOr<std::vector<uint8_t>> ReadWholeFile(const std::string& path);
};

// fsyncs the file at `path` through a descriptor of its own (fsync makes the file's data
// durable whichever descriptor wrote it). A file gone by then (its segment renamed or
// deleted meanwhile) is not an error: there is nothing left to make durable.
absl::Status SyncPath(FileSystem& fs, const std::string& path);

// The real file system (POSIX).
FileSystem& PosixFileSystem();

// The directory part of a path ("a/b/c" -> "a/b", "c" -> ".").
std::string DirName(const std::string& path);
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace fjord::storage
