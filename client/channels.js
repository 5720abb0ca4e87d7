// Named channels (PROTOCOL.md, "Named channels"): DataChannels next to the
// default one, each with its own delivery options (ordered, maxRetransmits
// or maxPacketLifeTime), relayed by the host like the default channel. The
// host opens every channel it knows on every link, in-band (the
// DataChannel's own open message carries the name and the options, no SDP
// renegotiation); a client declares its app's channels to its host
// (Negotiation.Channel) and knows every channel its host opens to it. The
// same as the Go peer's (peer/channels.go).

import { CHANNEL_LABEL, CHANNEL_MAX_OPTION, CHANNEL_NAME_MAX, CHANNEL_NAME_PATTERN, CHUNK_SIZE, Code, MAX_MAX_MESSAGE_SIZE, Message, RELAY_MAX_HELD, SEND_HIGH_WATER, SEND_LOW_WATER } from "./constants.js"
import { Reassembler, TOO_LARGE, encode, pieceSize } from "./wire.js"

const NAME = new RegExp(CHANNEL_NAME_PATTERN)

/**
 * channelSpec checks a channel's name and options and returns
 * {spec: {name, ordered, maxRetransmits?, maxPacketLifeTime?}} or
 * {error: {code: "bad_channel", message}}.
 */
export function channelSpec(name, opts = {}) {
  const bad = (message) => ({ error: { code: Code.BadChannel, message } })
  if (typeof name !== "string" || name === "") return bad("a channel name must be a non-empty string")
  if (new TextEncoder().encode(name).length > CHANNEL_NAME_MAX) return bad(`channel name "${name}": longer than ${CHANNEL_NAME_MAX} bytes`)
  if (name === CHANNEL_LABEL) return bad(`channel name "${name}": reserved for the default channel`)
  if (!NAME.test(name)) return bad(`channel name "${name}": only letters, digits, '-', '_' and '.'`)
  if (opts === null || typeof opts !== "object") return bad(`channel "${name}": options must be an object`)
  const spec = { name, ordered: opts.ordered === undefined ? true : opts.ordered }
  if (typeof spec.ordered !== "boolean") return bad(`channel "${name}": ordered must be true or false`)
  const has = (k) => opts[k] !== undefined && opts[k] !== null
  if (has("maxRetransmits") && has("maxPacketLifeTime")) return bad(`channel "${name}": maxRetransmits and maxPacketLifeTime cannot both be set`)
  for (const k of ["maxRetransmits", "maxPacketLifeTime"]) {
    if (!has(k)) continue
    const v = opts[k]
    if (!Number.isInteger(v) || v < 0 || v > CHANNEL_MAX_OPTION) return bad(`channel "${name}": ${k} ${v} is out of range 0-${CHANNEL_MAX_OPTION}`)
    spec[k] = v
  }
  return { spec }
}

/** specOf reads an RTCDataChannel's name and options. */
export function specOf(dc) {
  const spec = { name: dc.label, ordered: dc.ordered }
  if (dc.maxRetransmits !== null && dc.maxRetransmits !== undefined) spec.maxRetransmits = dc.maxRetransmits
  if (dc.maxPacketLifeTime !== null && dc.maxPacketLifeTime !== undefined) spec.maxPacketLifeTime = dc.maxPacketLifeTime
  return spec
}

/** sameSpec reports whether two specs are one channel with the same options. */
export function sameSpec(a, b) {
  return a.name === b.name && a.ordered === b.ordered && a.maxRetransmits === b.maxRetransmits && a.maxPacketLifeTime === b.maxPacketLifeTime
}

/** reliable: every message arrives, in order; such a channel takes messages of any size, in chunks. */
export function reliable(spec) {
  return spec.ordered && spec.maxRetransmits === undefined && spec.maxPacketLifeTime === undefined
}

/** tooLargeFor refuses a message of more than one chunk on an unordered or lossy channel. */
export function tooLargeFor(spec, msg) {
  if (reliable(spec) || encode(msg).length <= 1) return null
  return { code: Code.TooLarge, message: `channel "${spec.name}" is unordered or lossy: a message must fit in ${CHUNK_SIZE} bytes` }
}

/**
 * LinkChannel is one named channel of one Connection: its RTCDataChannel
 * once there is one (a client gets it when its host opens it), and a queue
 * of what is sent before it opens (at most RELAY_MAX_HELD messages, and
 * limit bytes) or while it is full (over SEND_HIGH_WATER).
 */
export class LinkChannel {
  constructor(name, limit) {
    this.name = name
    this.limit = limit
    this.channel = null
    this.spec = null
    this.known = false
    this.queue = []
    this.queuedBytes = 0
    this.held = 0
    this.chunks = new Reassembler(MAX_MAX_MESSAGE_SIZE + 65536)
    this.onmessage = (msg) => {}
  }

  /** attach takes dc as this channel; known: opened by the host (on the host: by this peer). */
  attach(dc, known) {
    this.channel = dc
    this.spec = specOf(dc)
    this.known = known
    dc.binaryType = "arraybuffer"
    dc.bufferedAmountLowThreshold = SEND_LOW_WATER
    dc.onbufferedamountlow = () => this.pump()
    dc.onopen = () => this.pump()
    dc.onmessage = (e) => {
      let msg
      try {
        msg = typeof e.data === "string" ? JSON.parse(e.data) : this.chunks.add(e.data)
      } catch {
        return // not ours: ignore
      }
      if (msg === TOO_LARGE) msg = { type: Message.Data, tooLarge: true }
      if (msg && typeof msg === "object") this.onmessage(msg)
    }
  }

  /** send queues a peer message; it returns null or the error that kept it from queueing. */
  send(msg) {
    const open = this.channel?.readyState === "open"
    if (!open && this.held >= RELAY_MAX_HELD) return { code: Code.SlowReader, message: `channel "${this.name}": too many messages held while it opens` }
    const pieces = encode(msg)
    let size = 0
    for (const p of pieces) size += pieceSize(p)
    if (this.queuedBytes + size > this.limit) return { code: Code.SlowReader, message: `channel "${this.name}": the send queue is full` }
    this.queue.push(...pieces)
    this.queuedBytes += size
    if (!open) this.held++
    this.pump()
    return null
  }

  pump() {
    const ch = this.channel
    if (!ch || ch.readyState !== "open") return
    this.held = 0
    let i = 0
    try {
      while (i < this.queue.length && ch.bufferedAmount <= SEND_HIGH_WATER) {
        const p = this.queue[i++]
        this.queuedBytes -= pieceSize(p)
        ch.send(p)
      }
    } catch {
      // closing: the link's state change says so
    }
    this.queue = this.queue.slice(i)
  }

  close() {
    const ch = this.channel
    this.queue = []
    this.queuedBytes = 0
    if (!ch) return
    ch.onopen = ch.onmessage = ch.onbufferedamountlow = null
    try {
      ch.close()
    } catch {
      // closed already
    }
  }
}
