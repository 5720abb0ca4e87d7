// The names of the p2pstreams wire protocol (PROTOCOL.md), shared by the
// other modules, and the reading of tokens and frame configs. The names and
// rules themselves come from constants.js, generated from Go's package
// protocol (`go generate ./protocol`): edit them there.

export {
  SIGNAL, Signal, Code, CODE_CLASS, FATAL, RETRY, CHANNEL_LABEL, Message, State, DEFAULT_CONFIG, CLAIMS,
  OFFER_TIMEOUT_MLS, NEGOTIATION_TIMEOUT_MLS, FORGET_AFTER_MLS, BACKOFF_BASE_MLS, BACKOFF_MAX_MLS,
  SEND_HIGH_WATER, SEND_LOW_WATER, RELAY_MAX_QUEUED, RELAY_MAX_HELD, CHUNK_SIZE, MAX_MAX_MESSAGE_SIZE, HOST_STATE_EVERY_MLS,
  HEAL_MAX_HELD, MAX_MAX_BITRATE, MAX_SCALE_RESOLUTION_DOWN_BY,
} from "./constants.js"
import { BACKOFF_BASE_MLS, BACKOFF_MAX_MLS, CLAIMS, DEFAULT_CONFIG, MAX_MAX_BITRATE, MAX_MAX_MESSAGE_SIZE, MAX_SCALE_RESOLUTION_DOWN_BY, State } from "./constants.js"

/** isFinal reports whether a connection in state s is over for good. */
export function isFinal(s) {
  return s === State.Disconnected || s === State.Closed || s === State.Failed
}

/**
 * backoff is the wait before join retry n (0, 1, ...), as in Go
 * (protocol.Backoff): min(base·2ⁿ, max) times a random factor in [0.5, 1.5).
 */
export function backoff(n, r = Math.random()) {
  return Math.min(BACKOFF_BASE_MLS * 2 ** n, BACKOFF_MAX_MLS) * (0.5 + r)
}

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
    keepCableConnection: c.keepCableConnection === true,
    // The old key autoFailover: false is read as manualFailover: true.
    manualFailover: c.manualFailover === true || c.autoFailover === false,
    maxMessageSize: Math.min(positive(c.maxMessageSize, DEFAULT_CONFIG.maxMessageSize), MAX_MAX_MESSAGE_SIZE),
    // A link not connected this long after its negotiation began fails (ice_failed).
    connect_timeout_mls: positive(c.connect_timeout_mls, DEFAULT_CONFIG.connect_timeout_mls),
    // A link whose path broke heals this long at most before it counts as lost.
    heal_timeout_mls: positive(c.heal_timeout_mls, DEFAULT_CONFIG.heal_timeout_mls),
    iceTransportPolicy: c.iceTransportPolicy === "relay" ? "relay" : "all",
    // Per-viewer sender caps of shared streams, in their bounds (as Go's Normalize).
    maxBitrate: Math.min(Number.isFinite(c.maxBitrate) && c.maxBitrate > 0 ? c.maxBitrate : 0, MAX_MAX_BITRATE),
    scaleResolutionDownBy: Math.min(c.scaleResolutionDownBy >= 1 ? c.scaleResolutionDownBy : 1, MAX_SCALE_RESOLUTION_DOWN_BY),
    clientsMayShare: c.clientsMayShare !== false,
  }
}

/**
 * rtcConfiguration is the RTCConfiguration of a link: the iceServers of the
 * SessionReady that announced it (the server's, with fresh credentials,
 * then the config's ice_servers) or else the config's, and the config's
 * iceTransportPolicy ("relay": TURN only, no host or STUN candidates).
 */
export function rtcConfiguration(config, iceServers) {
  return {
    iceServers: Array.isArray(iceServers) ? iceServers : config.ice_servers,
    iceTransportPolicy: config.iceTransportPolicy === "relay" ? "relay" : "all",
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
  return { sessionId: claims[CLAIMS.session], peerId: claims[CLAIMS.peer], expires: claims[CLAIMS.expires], config: claims[CLAIMS.config] || {} }
}
