// libFuzzer entry point for the config loader: the input bytes are parsed as JSON and given to
// Config::load_json, and written to a file and given to Config::load_file; a config that loads is
// also saved, reloaded (it must give the same JSON) and read key by key with its typed getter.
// Only std::exception is an acceptable outcome for bad bytes: anything else (a crash, a sanitizer
// report, a leak, an uncaught throw, a broken round trip) is a finding.
// Built and run by scripts/fuzz.sh config.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "experiments/config.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// Every key of a loaded config reads with the getter of its type.
void read_every_key(const cs::Config& c) {
  for (const auto& s : cs::config_schema()) {
    switch (s.type) {
      case cs::KeyType::Int: (void)c.integer(s.key); break;
      case cs::KeyType::Float: (void)c.real(s.key); break;
      case cs::KeyType::Bool: (void)c.boolean(s.key); break;
      case cs::KeyType::String:
      case cs::KeyType::Path: (void)c.str(s.key); break;
    }
  }
}

void round_trip(const cs::Config& c, const std::string& saved) {
  c.save(saved);
  cs::Config back;
  back.load_file(saved);
  if (back.to_json() != c.to_json()) __builtin_trap();  // a saved config must reload as itself
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string base = fuzz::input_path("config_fuzz");
  const std::string in = base + ".json", saved = base + "_saved.json";
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    cs::Config c;
    c.load_json(nlohmann::json::parse(text), "fuzz input");
    read_every_key(c);
    (void)c.to_text();
    round_trip(c, saved);
  } catch (const std::exception&) {
  }
  if (fuzz::write_file(in, data, size)) {
    try {
      cs::Config c;
      c.load_file(in);
      read_every_key(c);
    } catch (const std::exception&) {
    }
  }
  std::remove(in.c_str());
  std::remove(saved.c_str());
  return 0;
}
