# Network-namespace mode of deploy/home.sh (issue 9 item 3), sourced by home.sh.
#
# Topology (all addresses private to this machine, created and removed by the script):
#
#   host (root namespace)
#     hsh0 10.77.1.1/24  <-veth->  eth0 10.77.1.2/24  [hs-home: mosquitto, gatewayd, firmware-sim]
#     hsc0 10.77.2.1/24  <-veth->  eth0 10.77.2.2/24  [hs-cloud: cloudd x3]
#   WAN: hs-home wan0 10.77.0.1/30  <-veth->  hs-cloud wan0 10.77.0.2/30
#
# The gateway reaches the cloud only over the WAN link; the host reaches the home on
# 10.77.1.2 and the cloud on 10.77.0.2 (routed through hsc0, so admin access to the cloud
# keeps working while the WAN is cut). The WAN is shaped with tc netem on both wan0 ends
# (15 ms each way = 30 ms round trip, 0.5% loss each way ~ 1% per round trip) when the
# kernel has sch_netem; without it the WAN is unshaped and `wan slow` rate-limits with tbf.
NS_HOME=hs-home
NS_CLOUD=hs-cloud
NS_HOME_ADDR=10.77.1.2
NS_CLOUD_WAN_ADDR=10.77.0.2
WAN_DEFAULT_NETEM="delay 15ms loss 0.5%"
WAN_SLOW_NETEM="delay 150ms 50ms loss 5%"

netns_require_root() {
  if [[ $(id -u) != 0 ]]; then
    echo "home.sh: --netns needs root (it creates network namespaces and veth links)" >&2; exit 2
  fi
  command -v ip >/dev/null || { echo "home.sh: --netns needs iproute2 (ip, tc)" >&2; exit 2; }
}

netns_exists() { ip netns list 2>/dev/null | grep -qw "$1"; }

# Shapes both ends of the WAN link: netem when the kernel has it, else tbf (rate only) or
# nothing. Prints what it did.
wan_shape() {  # default|slow
  local ns netem; [[ "$1" == slow ]] && netem="$WAN_SLOW_NETEM" || netem="$WAN_DEFAULT_NETEM"
  for ns in "$NS_HOME" "$NS_CLOUD"; do ip netns exec "$ns" tc qdisc del dev wan0 root 2>/dev/null || true; done
  if ip netns exec "$NS_HOME" tc qdisc add dev wan0 root netem $netem 2>/dev/null; then
    ip netns exec "$NS_CLOUD" tc qdisc add dev wan0 root netem $netem
    echo "WAN shaped with netem ($netem each way)"
  elif [[ "$1" == slow ]]; then
    for ns in "$NS_HOME" "$NS_CLOUD"; do
      ip netns exec "$ns" tc qdisc add dev wan0 root tbf rate 256kbit burst 16kbit latency 400ms
    done
    echo "WAN slowed with tbf (256 kbit/s each way); this kernel has no sch_netem, so no added delay or loss"
  else
    echo "WAN unshaped: this kernel has no sch_netem (tc qdisc netem), so no delay or loss is added"
  fi
}

netns_up() {
  netns_require_root
  if netns_exists "$NS_HOME" || netns_exists "$NS_CLOUD"; then
    echo "home.sh: namespaces $NS_HOME/$NS_CLOUD already exist (another --netns home?); 'down' it first" >&2; exit 1
  fi
  ip netns add "$NS_HOME"
  ip netns add "$NS_CLOUD"
  local ns
  for ns in "$NS_HOME" "$NS_CLOUD"; do ip netns exec "$ns" ip link set lo up; done
  ip link add hsh0 type veth peer name hsh1
  ip link set hsh1 netns "$NS_HOME"
  ip netns exec "$NS_HOME" ip link set hsh1 name eth0
  ip addr add 10.77.1.1/24 dev hsh0; ip link set hsh0 up
  ip netns exec "$NS_HOME" ip addr add "$NS_HOME_ADDR/24" dev eth0
  ip netns exec "$NS_HOME" ip link set eth0 up
  ip link add hsc0 type veth peer name hsc1
  ip link set hsc1 netns "$NS_CLOUD"
  ip netns exec "$NS_CLOUD" ip link set hsc1 name eth0
  ip addr add 10.77.2.1/24 dev hsc0; ip link set hsc0 up
  ip netns exec "$NS_CLOUD" ip addr add 10.77.2.2/24 dev eth0
  ip netns exec "$NS_CLOUD" ip link set eth0 up
  ip link add hsw0 type veth peer name hsw1
  ip link set hsw0 netns "$NS_HOME"; ip link set hsw1 netns "$NS_CLOUD"
  ip netns exec "$NS_HOME" ip link set hsw0 name wan0
  ip netns exec "$NS_CLOUD" ip link set hsw1 name wan0
  ip netns exec "$NS_HOME" ip addr add 10.77.0.1/30 dev wan0
  ip netns exec "$NS_CLOUD" ip addr add "$NS_CLOUD_WAN_ADDR/30" dev wan0
  ip netns exec "$NS_HOME" ip link set wan0 up
  ip netns exec "$NS_CLOUD" ip link set wan0 up
  # The host reaches the cloud's WAN address through its own link to the cloud.
  ip route replace 10.77.0.0/30 via 10.77.2.2 dev hsc0
  say "network namespaces up: $NS_HOME ($NS_HOME_ADDR), $NS_CLOUD ($NS_CLOUD_WAN_ADDR over the WAN); $(wan_shape default)"
}

netns_down() {
  ip route del 10.77.0.0/30 2>/dev/null || true
  ip link del hsh0 2>/dev/null || true
  ip link del hsc0 2>/dev/null || true
  local ns
  for ns in "$NS_HOME" "$NS_CLOUD"; do
    if netns_exists "$ns"; then
      # Anything still running inside (started outside this script) would keep it alive.
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      ip netns del "$ns"
    fi
  done
  say "network namespaces removed"
}

wan_command() {  # cut|heal|slow|status
  netns_require_root
  netns_exists "$NS_HOME" || { echo "home.sh: wan: no --netns home is running" >&2; exit 2; }
  case "$1" in
    cut)
      # Packets vanish silently (no reset, no "unreachable"), as on a real outage, so
      # connections hang until their timeouts: netem loss 100% where the kernel has netem,
      # else a token bucket whose burst is smaller than any packet (tbf drops those).
      local ns
      for ns in "$NS_HOME" "$NS_CLOUD"; do
        ip netns exec "$ns" tc qdisc del dev wan0 root 2>/dev/null || true
        ip netns exec "$ns" tc qdisc add dev wan0 root netem loss 100% 2>/dev/null ||
          ip netns exec "$ns" tc qdisc add dev wan0 root tbf rate 8kbit burst 64 limit 64
      done
      say "WAN cut: packets between home and cloud are dropped silently (connections hang)" ;;
    heal)
      say "WAN healed; $(wan_shape default)" ;;
    slow)
      say "$(wan_shape slow)" ;;
    status)
      say "WAN qdisc (home side): $(ip netns exec "$NS_HOME" tc qdisc show dev wan0 | head -1)" ;;
    *) echo "home.sh: wan: expected cut, heal, slow or status, got '${1:-}'" >&2; exit 2 ;;
  esac
}
