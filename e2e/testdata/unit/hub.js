// An in-page stand-in for the signaling server, behind the same small
// transport interface the Peer uses (send, close, isOpen, onmessage,
// onclose). It lets a test drive the peer logic in one page and bend the
// delivery order: with holdDescriptions, offers and answers arrive late, after
// the ICE candidates that follow them (the ordering TESTING.md warns about).

import { readToken } from "/p2p/protocol.js"

export class Hub {
  constructor({ holdDescriptions = 0 } = {}) {
    this.hold = holdDescriptions
    this.conns = new Map() // peer id -> transport
    this.host = null
    this.log = [] // what was routed: [state, from, to]
  }

  transport() {
    const hub = this
    const t = {
      isOpen: true,
      peerId: null,
      onmessage: () => {},
      onclose: () => {},
      send(msg) {
        setTimeout(() => hub.handle(t, msg), 0)
      },
      close() {
        t.isOpen = false
        if (t.peerId && hub.conns.get(t.peerId) === t) hub.conns.delete(t.peerId)
        if (t.peerId && t.peerId === hub.host) {
          hub.host = null
          for (const c of hub.conns.values()) hub.deliver(c, { state: "HostLeft", hostPeerId: t.peerId })
        }
      },
    }
    return t
  }

  // reset ends the session as the server does when the host's lease runs
  // out: everyone connected, the host included, gets HostLeft.
  reset() {
    const old = this.host
    this.host = null
    for (const c of this.conns.values()) this.deliver(c, { state: "HostLeft", hostPeerId: old })
  }

  deliver(t, msg, delay = 0) {
    const go = () => t.isOpen && t.onmessage({ type: "Connection", ...msg })
    delay ? setTimeout(go, delay) : go()
  }

  handle(t, msg) {
    if (!t.isOpen) return
    switch (msg.state) {
      case "SessionJoin": {
        const { sessionId, peerId } = readToken(msg.token)
        t.peerId = peerId
        this.conns.set(peerId, t)
        if (!this.host) this.host = peerId
        const ready = { state: "SessionReady", sessionId, peerId, hostPeerId: this.host }
        this.deliver(t, ready)
        if (peerId !== this.host) this.deliver(this.conns.get(this.host), ready)
        break
      }
      case "SdpOffer":
      case "SdpAnswer":
      case "IceCandidate": {
        this.log.push([msg.state, t.peerId, msg.to])
        const to = this.conns.get(msg.to)
        if (!to) {
          this.deliver(t, { state: "Error", code: "peer_not_found", message: msg.to })
          return
        }
        const delay = msg.state === "IceCandidate" ? 0 : this.hold
        this.deliver(to, { state: msg.state, from: t.peerId, to: msg.to, data: msg.data }, delay)
        break
      }
      case "PeerLeft":
        this.log.push(["PeerLeft", t.peerId, msg.peerId])
        break
    }
  }
}

/** token makes an unsigned token: the peer only reads it; this hub trusts it. */
export function token(sessionId, peerId, config = {}) {
  const json = JSON.stringify({ s: sessionId, p: peerId, e: 4102444800, c: config })
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(json)))
  return b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") + ".unsigned"
}
