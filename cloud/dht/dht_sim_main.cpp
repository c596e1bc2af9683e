// dht-sim: builds Chord rings in the deterministic simulator and prints their state as
// JSON, or runs the Chord paper's experiments and prints tables (see dht_sim_cli.h).
#include <iostream>
#include <string>
#include <vector>

#include "cloud/dht/dht_sim_cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return homestead::dht::run_dht_sim(args, std::cout, std::cerr);
}
