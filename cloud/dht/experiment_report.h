// Prints the experiments of experiments.h as tables beside the Chord paper's numbers and,
// on request, plots them with gnuplot (the only place dht-sim touches files or programs).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace homestead::dht {

struct ExperimentOptions {
  std::uint64_t seed = 1;
  bool quick = false;     // smaller rings and fewer lookups (CI, smoke runs)
  std::string plot_dir;   // empty: no plots
};

// Throws std::runtime_error naming what is missing (gnuplot, or a writable directory).
void check_plotting_available(const std::string& plot_dir);
// name: path, load, failures or churn.
void run_experiment(const std::string& name, const ExperimentOptions& options, std::ostream& out);

}  // namespace homestead::dht
