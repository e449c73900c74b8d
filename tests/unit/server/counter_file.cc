#include "tests/unit/server/counter_file.h"

#include <filesystem>
#include <fstream>

namespace tessera::trust::testing {

Result<std::optional<uint64_t>> FileCounterRecord::Load() {
  std::ifstream in(path_);
  if (!in) return std::optional<uint64_t>();
  uint64_t value = 0;
  if (!(in >> value)) return DataLoss("counter record " + path_ + " is not a number");
  return std::optional<uint64_t>(value);
}

Status FileCounterRecord::Save(uint64_t value) {
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << value << "\n";
    if (!out.flush()) return Unavailable("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path_, ec);
  if (ec) return Unavailable("cannot rename " + tmp + ": " + ec.message());
  ++saves;
  if (after_save) after_save();
  return Status::Ok();
}

void CopyFile(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

hsm::Capabilities FaultyKeyStore::capabilities() const {
  hsm::Capabilities c = inner_.capabilities();
  if (hide_counter) c.monotonic_counter = c.hardware_counter = false;
  return c;
}

Result<uint64_t> FaultyKeyStore::ReadCounter() {
  if (fail_read) return *fail_read;
  return inner_.ReadCounter();
}

Result<uint64_t> FaultyKeyStore::IncrementCounter() {
  ++increments;
  if (fail_increment) return *fail_increment;
  return inner_.IncrementCounter();
}

}  // namespace tessera::trust::testing
