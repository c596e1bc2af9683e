// Bad topology, event and delay files: each problem is reported with its file and line.
#include <string>

#include <gtest/gtest.h>

#include "cloud/snapshot/sim_input.h"
#include "cloud/snapshot/sim_runner.h"

namespace homestead::snapshot {
namespace {

// The message of the InputError `parse` throws, or "no error".
template <class Parse>
std::string error_of(Parse parse) {
  try {
    parse();
  } catch (const InputError& error) {
    return error.what();
  }
  return "no error";
}

std::string topology_error(const std::string& text) {
  return error_of([&] { parse_topology(text, "topo.txt"); });
}

TEST(TopologyErrors, NameFileAndLine) {
  EXPECT_EQ(topology_error(""), "topo.txt: empty: expected the node count on the first line");
  EXPECT_EQ(topology_error("# nodes\nx\n"), "topo.txt:2: node count must be an integer >= 1, got 'x'");
  EXPECT_EQ(topology_error("0\n"), "topo.txt:1: node count must be an integer >= 1, got '0'");
  EXPECT_EQ(topology_error("3\nA 1\nB 2\n"), "topo.txt:1: declares 3 nodes but lists 2");
  EXPECT_EQ(topology_error("2\nA 1\nB -3\n"), "topo.txt:3: initial tokens must be an integer >= 0, got '-3'");
  EXPECT_EQ(topology_error("2\nA 1\nA 2\n"), "topo.txt:3: node 'A' declared twice");
  EXPECT_EQ(topology_error("2\nA 1\n\nB 2\n# links\nA C\n"), "topo.txt:6: unknown node 'C'");
  EXPECT_EQ(topology_error("2\nA 1\nB 2\nA A\n"), "topo.txt:4: link from 'A' to itself");
  EXPECT_EQ(topology_error("2\nA 1\nB 2\nA B\nA B\n"), "topo.txt:5: link A -> B declared twice");
  EXPECT_EQ(topology_error("2\nA 1\nB 2\nA B C\n"), "topo.txt:4: expected '<src> <dst>', got 3 words");
  EXPECT_EQ(topology_error("2\nA\n"), "topo.txt:2: expected '<node id> <initial tokens>', got 1 words");
}

TEST(TopologyParsing, ReadsNodesAndLinks) {
  const auto topology = parse_topology("# two nodes\n2\n  B 5\nA 3\n\nA B\nB A\n");
  EXPECT_EQ(topology.nodes(), (std::vector<ProcessId>{"A", "B"}));
  EXPECT_EQ(topology.initial_tokens.at("A"), 3);
  EXPECT_EQ(topology.initial_tokens.at("B"), 5);
  EXPECT_EQ(topology.total_tokens(), 8);
  EXPECT_EQ(topology.outgoing("A"), (std::vector<ProcessId>{"B"}));
  EXPECT_EQ(topology.incoming("A"), (std::vector<ProcessId>{"B"}));
}

// A and B talk both ways; C can send to A but nothing reaches C.
const char* kOneWay = "3\nA 5\nB 5\nC 5\nA B\nB A\nC A\n";

std::string events_error(const std::string& text) {
  const auto topology = parse_topology(kOneWay);
  return error_of([&] { parse_events(text, topology, "ev.txt"); });
}

TEST(EventErrors, NameFileAndLine) {
  EXPECT_EQ(events_error("send A B x\n"), "ev.txt:1: token count must be an integer >= 1, got 'x'");
  EXPECT_EQ(events_error("tick\nsend A B 0\n"), "ev.txt:2: token count must be an integer >= 1, got '0'");
  EXPECT_EQ(events_error("tick\n\n# c\nsend A C 1\n"), "ev.txt:4: no link A -> C in the topology");
  EXPECT_EQ(events_error("send A Q 1\n"), "ev.txt:1: unknown node 'Q'");
  EXPECT_EQ(events_error("send A B\n"), "ev.txt:1: expected 'send <src> <dst> <tokens>', got 3 words");
  EXPECT_EQ(events_error("snapshot A\n"),
            "ev.txt:1: snapshot at 'A' can never complete: no path of links to 'C'");
  EXPECT_EQ(events_error("tick 0\n"), "ev.txt:1: tick count must be an integer >= 1, got '0'");
  EXPECT_EQ(events_error("tick 1 2\n"), "ev.txt:1: expected 'tick [count]', got 3 words");
  EXPECT_EQ(events_error("tick\njump A\n"), "ev.txt:2: unknown command 'jump' (expected send, snapshot or tick)");
  EXPECT_EQ(events_error("tick 99999999999999999999\n"), "ev.txt:1: tick count '99999999999999999999' is too large");
}

TEST(EventErrors, SendingMoreTokensThanHeldNamesTheLine) {
  const auto topology = parse_topology(kOneWay);
  const auto events = parse_events("send A B 3\ntick\nsend A B 3\n", topology, "ev.txt");
  TokenNetwork network(topology, std::make_unique<SeededDelays>(1));
  try {
    play_script(network, events, "ev.txt");
    FAIL() << "expected an error";
  } catch (const InputError& error) {
    EXPECT_STREQ(error.what(), "ev.txt:3: node A holds 2 tokens, cannot send 3");
    EXPECT_EQ(error.line(), 3);
  }
}

TEST(EventParsing, ReadsEveryKind) {
  const auto topology = parse_topology(kOneWay);
  const auto events = parse_events("send C A 2\n# x\nsnapshot C\ntick 4\ntick\n", topology);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].kind, EventKind::send);
  EXPECT_EQ(events[0].from, "C");
  EXPECT_EQ(events[0].to, "A");
  EXPECT_EQ(events[0].amount, 2);
  EXPECT_EQ(events[1].kind, EventKind::snapshot);
  EXPECT_EQ(events[1].line, 3);
  EXPECT_EQ(events[2].amount, 4);
  EXPECT_EQ(events[3].amount, 1);
}

TEST(DelayFiles, ParseAndReportBadValues) {
  EXPECT_EQ(parse_delays("# slow first\n3 0\n\n1\n"), (std::vector<std::uint64_t>{3, 0, 1}));
  try {
    parse_delays("1 2\n0 -1\n", "d.txt");
    FAIL() << "expected an error";
  } catch (const InputError& error) {
    EXPECT_STREQ(error.what(), "d.txt:2: delay must be an integer >= 0, got '-1'");
  }
  ListedDelays delays({4}, "d.txt");
  EXPECT_EQ(delays.next(), 4u);
  EXPECT_THROW(delays.next(), InputError);
}

}  // namespace
}  // namespace homestead::snapshot
