#include "cloud/dht/experiment_report.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "cloud/dht/experiments.h"

namespace homestead::dht {
namespace {

// Writes DIR/<name>.dat and renders DIR/<name>.png with the given gnuplot commands.
void plot(const ExperimentOptions& options, const std::string& name, const std::string& data,
          const std::string& commands, std::ostream& out) {
  if (options.plot_dir.empty()) return;
  const std::filesystem::path dir(options.plot_dir);
  const std::string dat = (dir / (name + ".dat")).string();
  const std::string png = (dir / (name + ".png")).string();
  std::ofstream(dat) << data;
  const std::string script = (dir / (name + ".gp")).string();
  std::ofstream(script) << "set terminal pngcairo size 900,600 noenhanced\nset output '" << png << "'\nset grid\n"
                        << "datafile = '" << dat << "'\n" << commands;
  const std::string command = "gnuplot '" + script + "' 2>&1";
  if (std::system(command.c_str()) != 0) {
    // pngcairo is missing from some builds; the plain png terminal is always there.
    std::ofstream(script) << "set terminal png size 900,600\nset output '" << png << "'\nset grid\n"
                          << "datafile = '" << dat << "'\n" << commands;
    if (std::system(command.c_str()) != 0) throw std::runtime_error("gnuplot failed on " + script);
  }
  out << "plot: " << png << "\n";
}

void run_path(const ExperimentOptions& options, std::ostream& out) {
  PathLengthParams params;
  params.seed = options.seed;
  if (options.quick) params.max_log2_nodes = 10, params.lookups = 500;
  out << "== path length vs N (iterative lookups, random keys from random nodes; paper: ~1/2 log2 N) ==\n"
      << std::setw(7) << "N" << std::setw(10) << "hops" << std::setw(8) << "p1" << std::setw(8) << "p99"
      << std::setw(13) << "paper-count" << std::setw(14) << "1/2 log2 N" << std::setw(13) << "paper/(1/2)"
      << std::setw(9) << "failed" << "\n";
  std::ostringstream data;
  data << "# N mean p1 p99 half_log2 paper_mean\n";
  for (const auto& row : path_length_experiment(params)) {
    out << std::setw(7) << row.nodes << std::fixed << std::setprecision(2) << std::setw(10) << row.mean
        << std::setw(8) << row.p1 << std::setw(8) << row.p99 << std::setw(13) << row.paper_mean << std::setw(14)
        << row.half_log2 << std::setw(13) << row.paper_mean / row.half_log2 << std::setw(9) << row.failed << "\n";
    data << row.nodes << ' ' << row.mean << ' ' << row.p1 << ' ' << row.p99 << ' ' << row.half_log2 << ' '
         << row.paper_mean << "\n";
  }
  out << "(hops: mean of every node visited after the asker, the owner included; paper-count: the\n"
         " paper's path length, nodes asked until the owner's predecessor answers = hops - 1)\n\n";
  plot(options, "path_length", data.str(),
       "set logscale x 2\nset xlabel 'nodes'\nset ylabel 'path length (hops)'\n"
       "plot datafile using 1:2:3:4 with yerrorlines title 'mean (1st..99th pct)', "
       "datafile using 1:6 with linespoints title 'mean, paper count (hops - 1)', "
       "datafile using 1:5 with lines title '1/2 log2 N (paper)'\n",
       out);
}

void run_load(const ExperimentOptions& options, std::ostream& out) {
  LoadParams params;
  params.seed = options.seed;
  if (options.quick) params.hosts = 1000, params.keys = 100000;
  out << "== keys per node, " << params.hosts << " nodes, " << params.keys
      << " keys (paper, 10^4 nodes: 99th pct ~4x mean without virtual nodes, ~1.6x with 20) ==\n"
      << std::setw(9) << "virtual" << std::setw(10) << "mean" << std::setw(8) << "p1" << std::setw(8) << "p99"
      << std::setw(8) << "max" << std::setw(11) << "p99/mean" << std::setw(11) << "max/mean" << "\n";
  std::ostringstream data;
  data << "# virtual mean p1 p99 max\n";
  for (const auto& row : load_experiment(params)) {
    out << std::setw(9) << row.virtual_nodes << std::fixed << std::setprecision(1) << std::setw(10) << row.mean
        << std::setw(8) << row.p1 << std::setw(8) << row.p99 << std::setw(8) << row.max << std::setprecision(2)
        << std::setw(11) << row.p99 / row.mean << std::setw(11) << row.max / row.mean << "\n";
    data << row.virtual_nodes << ' ' << row.mean << ' ' << row.p1 << ' ' << row.p99 << ' ' << row.max << "\n";
  }
  out << "\n";
  plot(options, "load", data.str(),
       "set logscale x 2\nset xlabel 'virtual nodes per node'\nset ylabel 'keys per node'\n"
       "plot datafile using 1:2:3:4 with yerrorlines title 'mean (1st..99th pct)', "
       "datafile using 1:5 with linespoints title 'max'\n",
       out);
}

void run_failures(const ExperimentOptions& options, std::ostream& out) {
  FailureParams params;
  params.seed = options.seed;
  if (options.quick) params.nodes = 200, params.keys = 300, params.lookups = 300;
  out << "== lookups after a fraction p of " << params.nodes
      << " nodes fail at once (successor list 2 log2 N, 3 replicas; paper: failed lookups ~p) ==\n"
      << std::setw(6) << "p" << std::setw(12) << "fail-before" << std::setw(11) << "dead-owned" << std::setw(11)
      << "get-before" << std::setw(11)
      << "fail-after" << std::setw(12) << "stabilize-s" << std::setw(8) << "keys" << std::setw(13) << "all-replicas"
      << std::setw(6) << "lost" << std::setw(10) << "timeouts" << "\n";
  std::ostringstream data;
  data << "# p fail_before get_before fail_after\n";
  for (const auto& row : failure_experiment(params)) {
    out << std::fixed << std::setprecision(2) << std::setw(6) << row.fraction << std::setprecision(3)
        << std::setw(12) << row.lookup_fail_before << std::setw(11) << row.dead_owner_share << std::setw(11)
        << row.get_fail_before << std::setw(11)
        << row.lookup_fail_after << std::setprecision(1) << std::setw(11) << row.stabilize_seconds
        << (row.converged ? " " : "!") << std::setw(8) << row.keys << std::setw(13) << row.keys_all_replicas_failed
        << std::setw(6) << row.keys_lost << std::setprecision(2) << std::setw(10) << row.mean_timeouts_before << "\n";
    data << row.fraction << ' ' << row.lookup_fail_before << ' ' << row.get_fail_before << ' '
         << row.lookup_fail_after << "\n";
  }
  out << "(fail-before: owner found is dead; dead-owned: share of those keys whose owner failed, this\n"
         " placement's exact p; get-before: not even a replica answered; '!' = not fully stabilized;\n"
         " all-replicas: keys whose owner and replicas all failed, the only ones that may be lost)\n\n";
  plot(options, "failures", data.str(),
       "set xlabel 'fraction of failed nodes'\nset ylabel 'fraction of failed lookups'\n"
       "plot datafile using 1:2 with linespoints title 'lookup, before stabilization', "
       "datafile using 1:3 with linespoints title 'get with replicas, before', "
       "datafile using 1:4 with linespoints title 'lookup, after stabilization', x with lines title 'p'\n",
       out);
}

void run_churn(const ExperimentOptions& options, std::ostream& out) {
  ChurnParams params;
  params.seed = options.seed;
  if (options.quick) params.nodes = 100, params.duration_seconds = 120, params.keys = 200;
  out << "== gets under churn, " << params.nodes << " nodes, stabilization every 1 s, joins = failures ==\n"
      << std::setw(8) << "rate/s" << std::setw(7) << "joins" << std::setw(7) << "fails" << std::setw(9) << "gets"
      << std::setw(10) << "get-fail" << std::setw(7) << "keys" << std::setw(6) << "lost" << std::setw(11)
      << "stabilized" << "\n";
  std::ostringstream data;
  data << "# rate get_fail\n";
  for (const auto& row : churn_experiment(params)) {
    out << std::fixed << std::setprecision(2) << std::setw(8) << row.rate << std::setw(7) << row.joins
        << std::setw(7) << row.departures << std::setw(9) << row.lookups << std::setprecision(4) << std::setw(10)
        << row.lookup_fail << std::setw(7) << row.keys << std::setw(6) << row.keys_lost << std::setw(11)
        << (row.converged ? "yes" : "no") << "\n";
    data << row.rate << ' ' << row.lookup_fail << "\n";
  }
  out << "(paper, 500 nodes, stabilization every 30 s: ~0.7% failed lookups at 0.4 changes/s)\n\n";
  plot(options, "churn", data.str(),
       // Upper bound at least 0.01: with no failed gets at all, an empty range would make
       // gnuplot warn and draw a meaningless -1..1 axis.
       "set xlabel 'membership changes per second'\nset ylabel 'fraction of failed gets'\n"
       "set yrange [0:0.01<*]\n"
       "plot datafile using 1:2 with linespoints title 'failed gets'\n",
       out);
}

}  // namespace

void check_plotting_available(const std::string& plot_dir) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    throw std::runtime_error("--plot needs gnuplot, which is not installed (Debian: apt-get install gnuplot-nox)");
  }
  std::error_code error;
  std::filesystem::create_directories(plot_dir, error);
  if (error || !std::filesystem::is_directory(plot_dir)) {
    throw std::runtime_error("--plot: cannot create directory '" + plot_dir + "': " + error.message());
  }
}

void run_experiment(const std::string& name, const ExperimentOptions& options, std::ostream& out) {
  if (name == "path") return run_path(options, out);
  if (name == "load") return run_load(options, out);
  if (name == "failures") return run_failures(options, out);
  if (name == "churn") return run_churn(options, out);
  throw std::invalid_argument("unknown experiment '" + name + "'");
}

}  // namespace homestead::dht
