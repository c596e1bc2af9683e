// The gateway's side of the live global snapshot (issue 10 item 4): the gateway<->cloud
// channels are its Sync calls (cloud/cloudd/snapshot_sync_hooks.h has the cloud's side).
//
// A gateway only calls the cloud, so markers ride on calls: every Sync request carries the
// gateway's stamp (`?snapshot=<hex>` on the request path) and every successful reply the
// cloud member's stamp (a last "snapshot_stamp" field, stripped here before the reply is
// decoded). A reply with a mark of a snapshot the gateway has not recorded makes it record
// (before the reply is acted on); after recording it owes every cloud URL it talks to an
// explicit marker: one Pull (harmless, served by any member), which the adapter sends for
// take_marker_urls(). Once its part is complete it rides on the gateway's next Sync request
// to a member that recorded that snapshot (carry_parts: a last request field, see
// cloud/snapshot/stamp_codec.h kPartsField), so a busy gateway ships parts without a request
// of their own; a part no request carried in time is shipped by the adapter
// (POST /api/v1/snapshots/{id}/parts with the gateway token): take_finished_parts().
//
// What it records: pushed_through (the highest outbox seq in a Push sent before the cut:
// counted at the stamp, the send event), acked_through (the highest applied_through a reply
// received before the cut reported), and whatever the adapter adds (outbox depth and range,
// open transactuations, device command states).
//
// Channels are named by URL while sending ("url:<url>") and translated to the member's
// process name ("cloud-N", learnt from its reply stamps) when the part is shipped. A cloud
// URL or member not heard from for kIdle stops being a channel, so an unreachable member
// cannot hold a snapshot open forever. Thread-safe (one lock); no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cloud/snapshot/live_participant.h"
#include "cloud/snapshot/loss_closer.h"
#include "cloud/snapshot/record_aging.h"
#include "gateway/snapshot_views.h"

namespace homestead::gateway {

// Lists in a recorded part are capped so a part stays small whatever the gateway has open.
inline constexpr std::size_t kRuntimeStateCap = 100;

// The gateway part's "transactuations" and "commands" objects (cloud/snapshot/README.md, the
// gateway part): open transactuations with their phase, devices and open actuations; per
// device the commands not yet final (REST commands, REST commands queued behind
// transactuations, transactuation actuations), oldest first, and the final counts. At most
// `cap` transactuations and `cap` open commands are listed; "truncated" says how many more.
nlohmann::json runtime_state_json(const RuntimeStateCopy& copy, std::size_t cap = kRuntimeStateCap);

class GatewaySnapshotAgent {
 public:
  using ExtraState = std::function<nlohmann::json()>;
  // Longer than cloudd's SnapshotChannels::kGatewayIdle (30 s): a member that still counts
  // this gateway as a channel (heard within 30 s) is then always among the URLs it sends its
  // explicit marker to, so that member learns the gateway's cut even after the gateway moved
  // on to another member. (A member that no longer counts it answers the marker Pull with a
  // marked reply all the same: a channel first stamped after a record gets its cut then.)
  static constexpr std::chrono::seconds kIdle{40};
  static constexpr std::chrono::seconds kRetire{300};
  static constexpr std::chrono::seconds kMarkFor{5};  // as cloudd's SnapshotChannels
  // Seq gaps are closed as lost after this long (loss_closer.h): longer than a Sync call's
  // default 2 s request timeout, as cloudd's SnapshotChannels::kLossWait.
  static constexpr std::chrono::seconds kLossWait{5};
  // While marks ride, every cloud URL is owed an explicit marker Pull this often: the
  // gateway may talk to only one member, so a member whose marker Pull was lost would not
  // hear the cut (nor send its own on a reply) again.
  static constexpr std::chrono::seconds kMarkerRepeat{1};
  // The passes over recorded snapshots (marks, retirement, lossy channels) run this often.
  static constexpr std::chrono::milliseconds kHousekeeping{100};

  GatewaySnapshotAgent(const std::string& home, const std::string& gateway, ExtraState extra = {});

  const std::string& process() const { return process_; }

  // A Sync request to `url` is about to leave: returns the query to append
  // ("snapshot=<hex>"). push_last_seq: the highest outbox seq in it (Push), else 0.
  std::string stamp_request(const std::string& url, std::uint64_t push_last_seq = 0);
  // The highest outbox seq of the Push about to be made, for transports that do not read it
  // off the request body (MessagePack); counted as pushed when that Push is stamped.
  void note_push(std::uint64_t last_seq);
  std::uint64_t pending_push() const;
  // Removes the cloud's stamp from a successful reply body; returns it (hex), or "".
  static std::string strip_reply_stamp(std::string& body);
  // A stamped reply from `url` arrived; applied_through: the reply's (0: none).
  void on_reply(const std::string& url, const std::string& stamp_hex, std::uint64_t applied_through);

  // Cloud URLs owed an explicit marker (one Pull each), once per recording. `calling_next`:
  // a URL the caller is about to send a request to anyway (that request carries the marks,
  // see stamp_request), left out and left owed.
  std::vector<std::string> take_marker_urls(const std::string& calling_next = "");
  // Finished parts that can ride on the request about to go to `url`: those of snapshots
  // the member answering there recorded (its marks reached this gateway), at most
  // kMaxCarriedBytes. `json` is their JSON array text ("" when none). The caller reports
  // the call's end with carried(): delivered = a stamped reply came back (the member took
  // them); otherwise they are ready to ship again.
  struct CarriedParts {
    std::uint64_t ticket = 0;
    std::string json;
    std::size_t count = 0;
  };
  CarriedParts carry_parts(const std::string& url);
  void carried(std::uint64_t ticket, bool delivered);
  // Finished parts no request carried that were ready before `ready_before` (JSON for
  // POST .../parts), each handed out once. A caller that sends requests anyway passes the
  // time its last request left, so what became ready since rides on the next one instead.
  std::vector<nlohmann::json> take_finished_parts(
      std::chrono::steady_clock::time_point ready_before = std::chrono::steady_clock::time_point::max());
  // Parts delivered on requests so far.
  std::uint64_t parts_carried() const;
  static constexpr std::size_t kMaxCarriedBytes = 256 * 1024;

 private:
  // channels_changed: a URL or member was used for the first time.
  void refresh_channels_locked(bool channels_changed);
  std::string record_state_locked() const;
  // Moves parts that became complete, or gained a channel, into ready_.
  void collect_parts_locked(std::chrono::steady_clock::time_point now);

  struct ReadyPart {
    nlohmann::json part;
    std::set<std::string> recorded_by;  // members whose marks of it reached us ("cloud-N")
    std::chrono::steady_clock::time_point since;
  };
  struct Carrying {
    std::map<snapshot::SnapshotId, ReadyPart> parts;
    std::chrono::steady_clock::time_point since;
  };

  std::string process_;
  ExtraState extra_;
  mutable std::mutex mutex_;
  snapshot::LiveParticipant participant_;
  std::map<std::string, std::chrono::steady_clock::time_point> urls_;    // "url:<url>" -> last used
  std::map<std::string, std::chrono::steady_clock::time_point> clouds_;  // "cloud-N" -> last heard
  std::map<std::string, std::string> cloud_of_url_;                      // "url:<url>" -> "cloud-N"
  std::set<std::string> owed_markers_;
  std::map<snapshot::SnapshotId, ReadyPart> ready_;       // finished, not shipped yet
  std::map<std::uint64_t, Carrying> carrying_;            // ticket -> parts on a request in progress
  std::uint64_t next_ticket_ = 0;
  std::uint64_t parts_carried_ = 0;
  snapshot::RecordAging aging_{kMarkFor, kRetire};  // when records stop marking, retire
  std::chrono::steady_clock::time_point last_housekeeping_{};
  std::uint64_t pushed_through_ = 0;
  std::uint64_t pending_push_ = 0;
  std::uint64_t acked_through_ = 0;
  std::chrono::steady_clock::time_point last_markers_{};
  snapshot::LossCloser loss_closer_{kLossWait};
};

}  // namespace homestead::gateway
