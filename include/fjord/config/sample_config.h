#pragma once
// The text of config/fjord.yaml: every broker setting under its Kafka name with its
// default and a comment saying what it does and what it accepts. Generated from the
// registry so the sample cannot drift from it (`fjord --print-config` writes it; a unit
// test checks the committed file against it).

#include <string>

namespace fjord::config {

std::string SampleConfigYaml();

}  // namespace fjord::config
