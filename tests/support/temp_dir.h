// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
// Set TESSERA_KEEP_TEMP=1 to keep it for debugging.
#pragma once

#include <filesystem>
#include <string>

namespace tessera::testing {

class TempDir {
 public:
  // Creates "<tmp>/tessera-<prefix>-XXXXXX". Aborts the test binary if it cannot.
  explicit TempDir(const std::string& prefix = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name.
  std::filesystem::path File(const std::string& name) const { return path_ / name; }
  // Writes `contents` to path()/name and returns the full path.
  std::filesystem::path Write(const std::string& name, const std::string& contents) const;

 private:
  std::filesystem::path path_;
};

// Reads a whole file; empty when it does not exist.
std::string ReadFile(const std::filesystem::path& path);

}  // namespace tessera::testing
