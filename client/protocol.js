// The names of the p2pstreams wire protocol (PROTOCOL.md), shared by the
// other modules, and the reading of tokens and frame configs.

/** "type" of every signaling message. */
export const SIGNAL = "Connection"

/** Signaling states (PROTOCOL.md, "Signaling"). */
export const Signal = Object.freeze({
  SessionJoin: "SessionJoin",
  SessionReady: "SessionReady",
  SdpOffer: "SdpOffer",
  SdpAnswer: "SdpAnswer",
  IceCandidate: "IceCandidate",
  SessionLeave: "SessionLeave",
  PeerLeft: "PeerLeft",
  HostLeft: "HostLeft",
  ServerShutdown: "ServerShutdown",
  Error: "Error",
})

/** Peer message types over the DataChannel (PROTOCOL.md, "Peer messages"). */
export const Message = Object.freeze({
  Data: "Data",
  ConnectionState: "Data.Connection.State",
  Heartbeat: "Heartbeat",
  // Renegotiation over the channel, peer to peer, never given to the app.
  Description: "Negotiation.Description",
  Candidate: "Negotiation.Candidate",
  Features: "Negotiation.Features",
})

/** The label of the DataChannel the host opens for each client. */
export const CHANNEL_LABEL = "p2pstreams"

/** Connection states, of this peer and in Data.Connection.State. */
export const State = Object.freeze({
  New: "new",
  Negotiating: "negotiating",
  Connecting: "connecting",
  Connected: "connected",
  Disconnected: "disconnected",
  Closed: "closed",
  Failed: "failed",
})

/** isFinal reports whether a connection in state s is over for good. */
export function isFinal(s) {
  return s === State.Disconnected || s === State.Closed || s === State.Failed
}

/** Defaults of the frame config (the seed's keys, plus autoFailover). */
export const DEFAULT_CONFIG = Object.freeze({
  ice_servers: [],
  heartbeat: Object.freeze({ interval_mls: 1000, idle_timeout_mls: 4000 }),
  keepCableConnection: false,
  autoFailover: true,
  heal_timeout_mls: 20000,
})

/**
 * normalizeConfig fills a frame config with the defaults and coerces its
 * fields, so that the rest of the client can trust its shape.
 */
export function normalizeConfig(c) {
  c = c && typeof c === "object" ? c : {}
  const hb = c.heartbeat && typeof c.heartbeat === "object" ? c.heartbeat : {}
  const positive = (v, d) => (Number.isFinite(v) && v > 0 ? v : d)
  const interval = positive(hb.interval_mls, DEFAULT_CONFIG.heartbeat.interval_mls)
  return {
    ...c,
    ice_servers: Array.isArray(c.ice_servers) ? c.ice_servers : [],
    heartbeat: {
      interval_mls: interval,
      // An idle timeout below two intervals would drop live peers.
      idle_timeout_mls: Math.max(positive(hb.idle_timeout_mls, DEFAULT_CONFIG.heartbeat.idle_timeout_mls), 2 * interval),
    },
    heal_timeout_mls: positive(c.heal_timeout_mls, DEFAULT_CONFIG.heal_timeout_mls),
    keepCableConnection: c.keepCableConnection === true,
    autoFailover: c.autoFailover !== false,
  }
}

/**
 * readToken returns the claims of a token without checking its signature
 * (only the server can): the client needs its own ids and config from it.
 * @returns {{sessionId: string, peerId: string, expires: number, config: object}}
 */
export function readToken(token) {
  const body = String(token || "").split(".")[0]
  if (!body) throw new Error("p2pstreams: the frame has no token")
  const b64 = body.replace(/-/g, "+").replace(/_/g, "/")
  const bytes = Uint8Array.from(atob(b64 + "===".slice((b64.length + 3) % 4)), (ch) => ch.charCodeAt(0))
  const claims = JSON.parse(new TextDecoder().decode(bytes))
  return { sessionId: claims.s, peerId: claims.p, expires: claims.e, config: claims.c || {} }
}
