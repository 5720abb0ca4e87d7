// Package p2predis runs p2pstreams on Redis so that several server nodes
// serve one session together: a Store whose joins, leaves and host elections
// are atomic Lua scripts, and a Broker on Redis pub/sub.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	srv, err := p2pstreams.NewServer(&p2pstreams.Options{
//		Secret: secret,
//		Store:  p2predis.NewStore(rdb, nil),
//		Broker: p2predis.NewBroker(rdb, nil),
//	})
//
// # What Redis holds
//
// Each session is three keys that share the hash tag {SESSION}, after the
// prefix (default "p2pstreams:"):
//
//	p2pstreams:{SESSION}:h  string  the host's peer id
//	p2pstreams:{SESSION}:e  zset    member → end of its membership (Unix ms, JoinOptions.Expires)
//	p2pstreams:{SESSION}:l  zset    member → end of its presence lease (Unix ms)
//
// All three expire (PEXPIREAT) when the last membership ends, so an idle
// Redis holds nothing. For the admin calls and host_changed across nodes
// (the optional p2pstreams.Directory, Refusals and HostChanges; see
// directory.go), three more keys share the tag:
//
//	p2pstreams:{SESSION}:p  hash    the host's last report: host, at, states (JSON); expires with :h
//	p2pstreams:{SESSION}:d  hash    peer ("" for the session) → refused until (Unix ms); expires with the last
//	p2pstreams:{SESSION}:x  string  the host of the session that ended; expires after a minute
//
// Leases are scores compared with the Redis server's clock (TIME) inside
// the scripts, never with a node's clock: nodes whose clocks disagree still
// agree on who is connected.
//
// # Invariants
//
//   - Every Store method is one script run: atomic across nodes.
//   - The three keys are created, given their expiry and deleted together.
//     :h is written only by a Join that finds no live host, so two joiners
//     never both become host.
//   - A session whose host's lease or membership has ended is reset (all
//     three keys deleted) by the first script that comes across it: a dead
//     node's host is released by time, not by a callback that may never run.
//     Members learn it from their own node's Refresh (ErrNotMember).
//   - The Broker holds one pub/sub connection per node and subscribes only
//     the topics of the peers its node serves.
package p2predis
