// Peer is one member of a p2pstreams session: it joins through the signaling
// transport, then plays the host (one Connection per client, the relay, the
// state map) or a client (one Connection to the host). It knows nothing of the
// DOM: it reports to `events`, an object with
//
//   state(state, detail)   this peer's own connection state changed
//   message(msg)           a peer message for the app (Data, Data.Connection.State)
//   error(err)             err: {code, message}, from the server or the client
//
// Invariants:
// - every Data message reaches every peer exactly once, the sender included,
//   through the host and in the host's order; the host's own too;
// - the host's state map names every peer it has seen, itself included, and
//   goes to everyone (itself included) on each change;
// - events of a replaced or ended Connection are ignored (the `current` check);
// - clients drop the WebSocket once connected unless keepCableConnection, and
//   reopen it only when they need the server again (reconnect, failover).

import { Connection } from "./connection.js"
import { Message, SIGNAL, Signal, State, isFinal, normalizeConfig, readToken } from "./protocol.js"

// Server errors after which joining again cannot help.
const FATAL = new Set(["bad_token", "token_expired", "session_full", "session_expired", "origin_forbidden"])
// Server errors after which joining again, a little later, may work.
const RETRY = new Set(["peer_connected", "unavailable", "rate_limited", "join_timeout"])

/** Time a client waits for the host's offer after joining before it tries again. */
export const OFFER_TIMEOUT_MLS = 10000

/**
 * Time the host waits for a client whose connection ended to come back
 * before it forgets it: it drops it from the state map and tells the server
 * (PeerLeft), which frees its place in the session.
 */
export const FORGET_AFTER_MLS = 30000

export class Peer {
  /**
   * @param {object} o
   * @param {string} o.token the signed token of this peer
   * @param {object} [o.config] the frame config; the token's config wins over it
   * @param {{send(msg: object): void, close(): void, isOpen: boolean, onmessage: Function, onclose: Function}} o.signaling
   * @param {{state: Function, message: Function, error: Function}} o.events
   * @param {typeof RTCPeerConnection} [o.RTCPeerConnection]
   */
  constructor({ token, config = {}, signaling, events, RTCPeerConnection = globalThis.RTCPeerConnection, forgetAfterMls = FORGET_AFTER_MLS }) {
    const claims = readToken(token)
    this.token = token
    this.sessionId = claims.sessionId
    this.peerId = claims.peerId
    this.config = normalizeConfig({ ...config, ...claims.config })
    this.signaling = signaling
    this.events = events
    this.RTCPeerConnection = RTCPeerConnection
    this.forgetAfterMls = forgetAfterMls

    this.state = State.New
    this.hostPeerId = null
    this.iamHost = false
    this.joined = false // joined on the current WebSocket
    this.stopped = true
    this.attempt = 0 // consecutive join attempts that did not connect
    this.retryTimer = null
    this.offerTimer = null

    this.clients = new Map() // host: peer id -> Connection
    this.forgetTimers = new Map() // host: peer id -> timer, for clients that went
    this.states = new Map() // host: peer id -> state, itself included
    this.upstream = null // client: the Connection to the host

    signaling.onmessage = (m) => this.onSignal(m)
    signaling.onclose = () => this.onSignalingClosed()
  }

  /** start joins the session. */
  start() {
    if (!this.stopped) return
    this.stopped = false
    this.join()
  }

  /**
   * stop closes every connection (the other peers see it at once) and the
   * WebSocket. With leave (the default) a client also gives up its place in
   * the session when it can still tell the server; a page being closed or
   * reloaded passes leave: false and is seen as disconnected, as in the seed.
   */
  stop({ leave = true } = {}) {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.retryTimer)
    clearTimeout(this.offerTimer)
    // A host leaving resets the session when its WebSocket closes.
    if (leave && this.joined && !this.iamHost) this.signal({ state: Signal.SessionLeave })
    for (const c of this.clients.values()) retire(c)
    this.clients.clear()
    this.clearForgetTimers()
    retire(this.upstream)
    this.upstream = null
    this.signaling.close()
    this.joined = false
    this.setState(State.Closed)
  }

  /**
   * send sends data (any JSON value) to every peer of the session, this one
   * included. It returns false when this peer is not connected.
   */
  send(data) {
    if (this.iamHost && this.state === State.Connected) {
      this.relay({ type: Message.Data, senderId: this.peerId, data })
      return true
    }
    return !!this.upstream && this.upstream.send({ type: Message.Data, data })
  }

  // ---- signaling

  signal(msg) {
    this.signaling.send({ type: SIGNAL, ...msg })
  }

  join() {
    clearTimeout(this.retryTimer)
    if (this.stopped) return
    this.setState(State.Negotiating)
    if (this.joined) this.signal({ state: Signal.SessionLeave })
    this.joined = false
    this.signal({ state: Signal.SessionJoin, token: this.token })
  }

  // retry joins again after a jittered, growing delay: peers that lost their
  // host together do not all come back at once, and the first one back hosts.
  retry() {
    if (this.stopped) return
    clearTimeout(this.retryTimer)
    const base = Math.min(200 * 2 ** this.attempt, 8000)
    this.attempt++
    this.retryTimer = setTimeout(() => this.join(), base * (0.5 + Math.random()))
  }

  onSignal(m) {
    if (this.stopped || m.type !== SIGNAL) return
    switch (m.state) {
      case Signal.SessionReady:
        if (m.peerId === this.peerId) this.onJoined(m)
        else if (this.iamHost && this.joined) this.addClient(m.peerId)
        break
      case Signal.SdpOffer:
        if (!this.iamHost && m.from === this.hostPeerId) this.onOffer(m.from, m.data)
        break
      case Signal.SdpAnswer:
        if (this.iamHost) this.clients.get(m.from)?.accept(m.data).catch((e) => this.fail(m.from, e))
        break
      case Signal.IceCandidate:
        this.connectionOf(m.from)?.addCandidate(m.data)
        break
      case Signal.PeerLeft:
        if (this.iamHost) this.clients.get(m.peerId)?.close(State.Closed)
        break
      case Signal.HostLeft:
        // The session was reset. A host (whose lease ran out, say) joins
        // again to keep its clients; a client finds a host again.
        this.joined = false
        if (this.iamHost) this.retry()
        else this.hostLost("host_left")
        break
      case Signal.Error:
        this.onError(m)
        break
      // ServerShutdown: the socket closes next; onSignalingClosed handles it.
    }
  }

  onJoined(m) {
    this.joined = true
    if (m.config && typeof m.config === "object") this.config = normalizeConfig({ ...this.config, ...m.config })
    this.hostPeerId = m.hostPeerId
    if (m.hostPeerId === this.peerId) {
      this.becomeHost()
      return
    }
    if (this.iamHost) this.dropHostRole()
    clearTimeout(this.offerTimer)
    this.offerTimer = setTimeout(() => {
      if (!this.upstream) this.hostLost("offer_timeout")
    }, OFFER_TIMEOUT_MLS)
  }

  onError(m) {
    const err = { code: m.code || "error", message: m.message || "" }
    // A client that closed its WebSocket still gets the host's late ICE
    // candidates addressed to it: that refusal is expected and harmless.
    if (err.code === "peer_not_found") return
    if (this.state === State.Negotiating && FATAL.has(err.code)) {
      this.events.error(err)
      this.stopped = true
      this.signaling.close()
      this.setState(State.Failed, { reason: err.code })
      return
    }
    this.events.error(err)
    // Only a refused join is retried: a refused routed message is not
    // worth restarting the negotiation for.
    if (this.state === State.Negotiating && !this.joined && RETRY.has(err.code)) this.retry()
  }

  onSignalingClosed() {
    this.joined = false
    if (this.stopped) return
    // A host keeps its clients over WebRTC and joins again to stay host; a
    // client still negotiating tries again; a connected client needs nothing.
    if (this.iamHost || this.state === State.Negotiating) this.retry()
  }

  // ---- host

  becomeHost() {
    clearTimeout(this.offerTimer)
    retire(this.upstream)
    this.upstream = null
    this.attempt = 0
    if (!this.iamHost) {
      this.iamHost = true
      this.states = new Map([[this.peerId, State.Connected]])
    }
    this.setState(State.Connected)
    this.broadcastStates()
  }

  // dropHostRole: this peer joined again after losing its WebSocket and
  // someone else hosts now. Its clients will find their host gone.
  dropHostRole() {
    this.iamHost = false
    for (const c of this.clients.values()) retire(c)
    this.clients.clear()
    this.clearForgetTimers()
    this.states = new Map()
  }

  addClient(id) {
    clearTimeout(this.forgetTimers.get(id))
    this.forgetTimers.delete(id)
    retire(this.clients.get(id)) // a reload: the old connection is over
    const conn = this.newConnection(id, true)
    this.clients.set(id, conn)
    const current = () => this.clients.get(id) === conn
    conn.onstate = (s) => {
      if (!current()) return
      if (isFinal(s)) {
        this.clients.delete(id)
        this.forgetLater(id)
      }
      this.setPeerState(id, s)
    }
    conn.onmessage = (msg) => {
      if (current() && msg.type === Message.Data) this.relay({ type: Message.Data, senderId: id, data: msg.data })
    }
    this.setPeerState(id, State.Negotiating)
    conn.offer().catch((e) => this.fail(id, e))
  }

  // forgetLater forgets a client that went, unless it comes back in time
  // (a reload comes back within seconds, with a new SessionReady).
  forgetLater(id) {
    clearTimeout(this.forgetTimers.get(id))
    this.forgetTimers.set(id, setTimeout(() => {
      this.forgetTimers.delete(id)
      if (this.clients.has(id) || !this.iamHost) return
      if (this.joined) this.signal({ state: Signal.PeerLeft, peerId: id })
      if (this.states.delete(id)) this.broadcastStates()
    }, this.forgetAfterMls))
  }

  clearForgetTimers() {
    for (const t of this.forgetTimers.values()) clearTimeout(t)
    this.forgetTimers.clear()
  }

  relay(msg) {
    this.events.message(msg)
    for (const c of this.clients.values()) if (c.open) c.send(msg)
  }

  setPeerState(id, s) {
    if (this.states.get(id) === s) return
    this.states.set(id, s)
    this.broadcastStates()
  }

  broadcastStates() {
    this.relay({ type: Message.ConnectionState, data: Object.fromEntries(this.states) })
  }

  // ---- client

  onOffer(from, offer) {
    clearTimeout(this.offerTimer)
    retire(this.upstream)
    const conn = this.newConnection(from, false)
    this.upstream = conn
    conn.onstate = (s) => {
      if (this.upstream !== conn) return
      if (s === State.Connected) {
        this.attempt = 0
        if (!this.config.keepCableConnection) {
          this.signaling.close()
          this.joined = false
        }
      }
      if (isFinal(s)) this.hostLost(s)
      else this.setState(s)
    }
    conn.onmessage = (msg) => {
      if (this.upstream === conn && (msg.type === Message.Data || msg.type === Message.ConnectionState)) this.events.message(msg)
    }
    conn.answer(offer).catch((e) => this.fail(from, e))
  }

  // hostLost: the client's way to its host is gone (its connection ended, the
  // server said HostLeft, or no offer came). With autoFailover it joins again,
  // and the first client back becomes the new host; without, it stays down.
  hostLost(reason) {
    clearTimeout(this.offerTimer)
    const up = this.upstream
    this.upstream = null
    retire(up)
    const reconnecting = this.config.autoFailover
    this.setState(State.Disconnected, { reason, reconnecting })
    if (reconnecting) this.retry()
    else {
      this.stopped = true
      this.signaling.close()
      this.joined = false
    }
  }

  // ---- shared

  newConnection(remoteId, offerer) {
    const conn = new Connection({
      remoteId,
      offerer,
      config: this.config,
      RTCPeerConnection: this.RTCPeerConnection,
      signal: (state, to, data) => this.signal({ state, to, data }),
    })
    conn.onlost = (n) =>
      this.events.error({ code: "messages_lost", message: `${n} messages for ${remoteId}, sent while the link was healing, were lost with it` })
    conn.onerror = (e) => this.events.error({ code: "webrtc", message: `renegotiation with ${remoteId}: ${e && e.message ? e.message : e}` })
    return conn
  }

  connectionOf(id) {
    if (this.iamHost) return this.clients.get(id)
    return this.upstream && this.upstream.remoteId === id ? this.upstream : undefined
  }

  fail(id, e) {
    this.events.error({ code: "webrtc", message: `${id}: ${e && e.message ? e.message : e}` })
    this.connectionOf(id)?.close(State.Failed)
  }

  setState(s, detail = {}) {
    if (s === this.state) return
    this.state = s
    this.events.state(s, detail)
  }
}

// retire ends a connection that was replaced or is no longer wanted, without
// letting its last events reach the peer logic.
function retire(conn) {
  if (!conn) return
  conn.onstate = conn.onmessage = () => {}
  conn.close()
}
