// Fuzzes configuration loading (config/load.h): the input is the TOML config file, read by the real
// LoadConfig through a memfd (LoadConfig takes a path; /proc/self/fd/N names the memfd), with no
// environment and no flags. Invariants: nothing crashes or throws out of LoadConfig; an accepted
// configuration's ConfigToToml is accepted again and renders to the same text (a fixed point, as
// `portcullis config show` promises).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/load.h"

namespace {

// One memfd for the process; rewritten for every input.
const std::string& ConfigPath() {
  static const std::string* path = [] {
    const int fd = memfd_create("portcullis_config_fuzz", 0);
    if (fd < 0) std::abort();
    return new std::string("/proc/self/fd/" + std::to_string(fd));
  }();
  return *path;
}

int ConfigFd() { return std::stoi(ConfigPath().substr(std::string_view("/proc/self/fd/").size())); }

void WriteConfig(std::string_view text) {
  const int fd = ConfigFd();
  if (ftruncate(fd, 0) != 0) std::abort();
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = pwrite(fd, text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
}

portcullis::Result<portcullis::config::Config> Load() {
  portcullis::config::LoadInputs inputs;
  inputs.config_file = ConfigPath();
  return portcullis::config::LoadConfig(inputs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  WriteConfig(std::string_view(reinterpret_cast<const char*>(data), size));
  portcullis::Result<portcullis::config::Config> config = Load();
  if (!config.ok()) return 0;
  const std::string shown = portcullis::config::ConfigToToml(*config);
  WriteConfig(shown);
  portcullis::Result<portcullis::config::Config> again = Load();
  if (!again.ok() || portcullis::config::ConfigToToml(*again) != shown) std::abort();
  return 0;
}
