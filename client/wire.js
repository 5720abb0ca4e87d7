// The peer messages' form on the DataChannel (PROTOCOL.md, "Chunks"), the
// same as the Go peer's (peer/chunk.go): a JSON message up to CHUNK_SIZE
// bytes is one text message; anything else goes as binary messages, each
// one flag byte then up to CHUNK_SIZE-1 bytes. FLAG_MORE: more of the same
// message follows. FLAG_BINARY: the whole is a 4-byte big-endian header
// length, the header (JSON: type, senderId) and the payload bytes (a binary
// Data message); without it the whole is JSON text. FLAG_ABORT (alone):
// drop what came of the message so far.

import { CHUNK_SIZE } from "./constants.js"

const FLAG_MORE = 1
const FLAG_BINARY = 2
export const FLAG_ABORT = 4

const utf8 = new TextEncoder()
const fromUTF8 = new TextDecoder()

/** TOO_LARGE is what Reassembler.add returns for a message over its bound. */
export const TOO_LARGE = Object.freeze({ tooLarge: true })

/** isBytes reports whether data is sent as a binary message. */
export function isBytes(data) {
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data)
}

function bytesOf(data) {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

/** payloadSize is the size the maximum message size applies to: the bytes, or the JSON text's. */
export function payloadSize(data) {
  if (isBytes(data)) return data.byteLength
  const s = JSON.stringify(data)
  if (s === undefined) return 0
  return s.length * 3 <= CHUNK_SIZE ? s.length : utf8.encode(s).length
}

/** encode returns the DataChannel messages (strings or Uint8Arrays) of one peer message. */
export function encode(msg) {
  if (isBytes(msg.data)) {
    const { data, ...head } = msg
    const h = utf8.encode(JSON.stringify(head))
    const payload = bytesOf(data)
    const whole = new Uint8Array(4 + h.length + payload.length)
    new DataView(whole.buffer).setUint32(0, h.length)
    whole.set(h, 4)
    whole.set(payload, 4 + h.length)
    return chunk(whole, FLAG_BINARY)
  }
  const s = JSON.stringify(msg)
  if (s.length * 3 <= CHUNK_SIZE) return [s] // UTF-8 takes at most 3 bytes per UTF-16 unit
  const b = utf8.encode(s)
  return b.length <= CHUNK_SIZE ? [s] : chunk(b, 0)
}

function chunk(whole, flags) {
  const n = CHUNK_SIZE - 1
  const out = []
  for (let i = 0; i < whole.length || out.length === 0; i += n) {
    const part = whole.subarray(i, i + n)
    const b = new Uint8Array(1 + part.length)
    b[0] = flags | (i + n < whole.length ? FLAG_MORE : 0)
    b.set(part, 1)
    out.push(b)
  }
  return out
}

/** pieceSize is the bytes a piece of encode's output puts on the channel. */
export function pieceSize(p) {
  return typeof p === "string" ? p.length : p.byteLength
}

/** Reassembler puts one channel's chunks back together, up to limit bytes a message. */
export class Reassembler {
  constructor(limit) {
    this.limit = limit
    this.reset()
  }

  reset() {
    this.parts = []
    this.size = 0
    this.skip = false
  }

  /**
   * add takes one binary DataChannel message (an ArrayBuffer). It returns
   * the peer message it completes (binary data as a Uint8Array), TOO_LARGE
   * for one that passed the bound (dropped), or null.
   */
  add(buf) {
    const b = new Uint8Array(buf)
    if (!b.length) return null
    const flags = b[0]
    if (flags & FLAG_ABORT) {
      this.reset()
      return null
    }
    if (!this.skip) {
      this.size += b.length - 1
      if (this.size > this.limit) {
        this.skip = true
        this.parts = []
      } else this.parts.push(b.subarray(1))
    }
    if (flags & FLAG_MORE) return null
    const { parts, size, skip } = this
    this.reset()
    if (skip) return TOO_LARGE
    const whole = parts.length === 1 ? parts[0] : new Uint8Array(size)
    if (parts.length !== 1) {
      let at = 0
      for (const p of parts) {
        whole.set(p, at)
        at += p.length
      }
    }
    if (!(flags & FLAG_BINARY)) return JSON.parse(fromUTF8.decode(whole))
    const n = new DataView(whole.buffer, whole.byteOffset, whole.byteLength).getUint32(0)
    if (n > whole.length - 4) throw new Error("p2pstreams: bad binary header")
    const msg = JSON.parse(fromUTF8.decode(whole.subarray(4, 4 + n)))
    if (!msg || typeof msg !== "object") throw new Error("p2pstreams: bad binary header")
    msg.data = whole.slice(4 + n)
    return msg
  }
}
