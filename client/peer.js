// Peer is one member of a p2pstreams session: it joins through the signaling
// transport, then plays the host (one Connection per client, the relay, the
// state map) or a client (one Connection to the host). It knows nothing of the
// DOM: it reports to `events`, an object with
//
//   state(state, detail)   this peer's own connection state changed
//   message(msg)           a peer message for the app (Data, Data.Connection.State)
//   error(err)             err: {code, message}, from the server or the client
//   hostChanged(change)    {previous, current}: another peer hosts the session now
//   hostState()            (optional) the app's state snapshot, on the host; undefined: none
//   restoreState(state)    (optional) replace the app's state with the host's snapshot
//
// State hand-off (opt-in, when the app gives hostState): the host sends a
// snapshot to each client when its channel opens, and a fresh one at most
// every HOST_STATE_EVERY_MLS while Data messages flow. A client restores the
// first one it gets from each host (a newcomer sees the room's state), keeps
// the later ones and the Data messages since the last one; when it becomes
// the host it restores the last snapshot and delivers those messages again,
// so that its state is the old host's, whole, once.
//
// Invariants:
// - every Data message reaches every peer exactly once, the sender included,
//   through the host and in the host's order; the host's own too;
// - the host's state map names every peer it has seen, itself included, and
//   goes to everyone (itself included) on each change;
// - events of a replaced or ended Connection are ignored (the `current` check);
// - delivered or reported: send returns true only when the message was
//   queued for its way; otherwise events.error says why (message_too_large,
//   slow_reader), or it returns false while not connected; a client the
//   relay cannot queue for is dropped (failed, counted in slowDrops), and
//   a client still negotiating gets the Data messages held for it;
// - clients drop the WebSocket once connected unless keepCableConnection, and
//   reopen it only when they need the server again (reconnect, failover).

import { Connection } from "./connection.js"
import { linkStats } from "./stats.js"
import { Code, FATAL, FORGET_AFTER_MLS, HOST_STATE_EVERY_MLS, MAX_MAX_BITRATE, MAX_SCALE_RESOLUTION_DOWN_BY, Message, OFFER_TIMEOUT_MLS, RETRY, SIGNAL, Signal, State, backoff, isFinal, normalizeConfig, readToken } from "./protocol.js"
import { isBytes, payloadSize } from "./wire.js"
import { channelSpec, sameSpec, tooLargeFor } from "./channels.js"

export { OFFER_TIMEOUT_MLS, FORGET_AFTER_MLS }

// REPORT_MLS spaces the host's PeerStates (the server takes one per 100 ms).
const REPORT_MLS = 250
// A second page of the same peer in one browser (another tab of the same
// room and user) is refused with code already_open, and the first page
// keeps working: one page per peer per browser, kept by a Web Lock that a
// page holds while it is started. A reload is not a second page: the old
// page stops (pagehide) and its lock goes with it.
export const ALREADY_OPEN = Code.AlreadyOpen

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
    this.streams = new Map() // host: MediaStream -> its sharer (itself, or a client it forwards)
    this.ownStreams = new Set() // client: the MediaStreams it shares (through the host)
    this.caps = new WeakMap() // MediaStream this peer shares -> its sender caps {maxBitrate, scaleResolutionDownBy}
    this.forgetTimers = new Map() // host: peer id -> timer, for clients that went
    this.states = new Map() // host: peer id -> state, itself included
    this.upstream = null // client: the Connection to the host
    this.reportTimer = null // host: a PeerStates waiting for REPORT_MLS to pass
    this.lastReport = 0
    this.slowDrops = 0 // host: clients dropped because they could not keep up
    this.lastHost = null // the host of the last join, for hostChanged
    this.snapshot = undefined // client: the host's last state snapshot
    this.since = [] // client: the Data messages received after it
    this.recent = [] // client: the last Data messages, for a snapshot's "after"
    this.restored = false // client: restored the current host's first snapshot
    this.stateDirty = false // host: Data relayed since the last snapshot
    this.stateTimer = null
    this.suspect = null // client: the host it lost; reported if the server names it again
    // Named channels this peer knows, name -> spec: its app's, those its
    // host opened to it, those its clients declared. Kept across rounds: a
    // new host opens all of them on every link (channels.js).
    this.channels = new Map()

    signaling.onmessage = (m) => this.onSignal(m)
    signaling.onclose = (info) => this.onSignalingClosed(info)
  }

  /** start joins the session. */
  start() {
    if (!this.stopped) return
    this.stopped = false
    const locks = globalThis.navigator?.locks
    if (!locks) {
      this.join() // no Web Locks (not a secure context): no one-page rule
      return
    }
    locks.request(`p2pstreams:${this.sessionId}:${this.peerId}`, { ifAvailable: true }, (lock) => {
      if (this.stopped) return
      if (!lock) return this.refuse()
      this.join()
      return new Promise((release) => (this.releaseLock = release)) // held until stop
    })
  }

  // refuse ends a page of a peer that is open in another page already.
  refuse() {
    const err = { code: ALREADY_OPEN, message: "you are already in this room in another tab" }
    this.events.error(err)
    this.stopped = true
    this.setState(State.Failed, { reason: err.code })
  }

  /**
   * stop closes every connection (the other peers see it at once) and the
   * WebSocket. With leave (the default) a client also gives up its place in
   * the session when it can still tell the server; a page being closed or
   * reloaded passes leave: false and is seen as disconnected, as in the Rails gem.
   */
  stop({ leave = true } = {}) {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.retryTimer)
    clearTimeout(this.offerTimer)
    clearTimeout(this.reportTimer)
    this.reportTimer = null
    clearInterval(this.stateTimer)
    // A host leaving resets the session when its WebSocket closes.
    if (leave && this.joined && !this.iamHost) this.signal({ state: Signal.SessionLeave })
    for (const c of this.clients.values()) retire(c)
    this.clients.clear()
    this.clearForgetTimers()
    retire(this.upstream)
    this.upstream = null
    this.signaling.close()
    this.joined = false
    this.releaseLock?.()
    this.setState(State.Closed)
  }

  /**
   * send sends data (any JSON value, or bytes: an ArrayBuffer or a typed
   * array, which arrive as a Uint8Array) to every peer of the session, this
   * one included; on the named channel `channel` when given (openChannel).
   * It returns false when this peer is not connected, or when the message
   * was refused (events.error has the code: message_too_large over
   * config.maxMessageSize or over one chunk on an unordered or lossy
   * channel, slow_reader when the queue is full, unknown_channel for a
   * channel this peer does not know).
   */
  send(data, { channel } = {}) {
    const n = payloadSize(data)
    if (n > this.config.maxMessageSize) {
      this.events.error({ code: Code.TooLarge, message: `a message of ${n} bytes; the maximum is ${this.config.maxMessageSize}` })
      return false
    }
    if (isBytes(data)) data = new Uint8Array(data instanceof ArrayBuffer ? data.slice(0) : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
    if (channel !== undefined) return this.sendNamed(channel, data)
    if (this.iamHost && this.state === State.Connected) {
      const err = this.relay({ type: Message.Data, senderId: this.peerId, data }, true, true)
      if (err) this.events.error(err)
      return !err
    }
    if (!this.upstream?.open) return false
    const err = this.upstream.send({ type: Message.Data, data })
    if (err) this.events.error(err)
    return !err
  }

  /**
   * openChannel opens the named channel on every link of the session, those
   * made later (late joiners, a new host) too: the host opens it at once; a
   * client declares it to its host, which opens it everywhere. opts:
   * ordered (default true), and at most one of maxRetransmits and
   * maxPacketLifeTime (0-65535) for a lossy channel. A reserved or bad name
   * or option, or a name open already with other options, is refused
   * (false, and events.error with code bad_channel).
   */
  openChannel(name, opts) {
    const { spec, err } = this.checkChannel(name, opts)
    if (err) {
      this.events.error(err)
      return false
    }
    this.declare(spec)
    if (!this.iamHost && this.upstream?.open) this.upstream.sendNow({ type: Message.Channel, data: spec })
    return true
  }

  // checkChannel validates a channel; one known already must have the same options.
  checkChannel(name, opts) {
    const { spec, error } = channelSpec(name, opts)
    const known = spec && this.channels.get(name)
    const err = error ?? (known && !sameSpec(known, spec) ? { code: Code.BadChannel, message: `channel "${name}" is open with other options` } : null)
    return { spec, err }
  }

  // declare adds spec to the channels this peer knows; a host opens it on
  // every link.
  declare(spec) {
    if (!this.channels.has(spec.name)) this.channels.set(spec.name, spec)
    if (this.iamHost) for (const c of this.clients.values()) c.openNamed(this.channels.get(spec.name))
  }

  sendNamed(name, data) {
    const spec = this.channels.get(name)
    const msg = { type: Message.Data, data }
    const err = spec ? tooLargeFor(spec, msg) : { code: Code.UnknownChannel, message: `channel "${name}" is not open (openChannel)` }
    if (err) {
      this.events.error(err)
      return false
    }
    if (this.iamHost && this.state === State.Connected) {
      this.relayNamed(name, { ...msg, senderId: this.peerId })
      return true
    }
    if (!this.upstream?.open) return false
    const e = this.upstream.sendNamed(name, msg)
    if (e) this.events.error(e)
    return !e
  }

  // relayNamed is relay for a named channel: to this host and every
  // client (held for one whose channel is not open yet).
  relayNamed(name, msg) {
    this.events.message({ ...msg, channel: name })
    const slow = []
    for (const c of this.clients.values()) {
      const err = c.sendNamed(name, msg)
      if (err) slow.push([c, err])
    }
    this.dropSlow(slow)
  }

  // onNamed handles a message on a named channel of conn.
  onNamed(conn, name, msg, known) {
    if (msg.type !== Message.Data) return
    if (!known) {
      // Delivered or reported: neither the app nor the other peers get it.
      const err = { code: Code.UnknownChannel, message: `${conn.remoteId} sent a message on channel "${name}", which this peer did not open` }
      this.events.error(err)
      if (this.iamHost) conn.sendNow({ type: Message.Error, ...err })
      return
    }
    if (!this.iamHost) return this.events.message({ ...msg, channel: name })
    if (msg.tooLarge || payloadSize(msg.data) > this.config.maxMessageSize) {
      conn.sendNow({ type: Message.Error, code: Code.TooLarge, message: "the host refused a message over its maximum size" })
      return
    }
    const out = { type: Message.Data, senderId: conn.remoteId, data: msg.data }
    const err = tooLargeFor(this.channels.get(name), out)
    if (err) conn.sendNow({ type: Message.Error, ...err })
    else this.relayNamed(name, out)
  }

  // onDeclared (host): a client declares a channel (Negotiation.Channel).
  onDeclared(conn, data) {
    const { spec, err } = this.checkChannel(data?.name, data ?? {})
    if (err) conn.sendNow({ type: Message.Error, ...err })
    else this.declare(spec)
  }

  /**
   * shareStream shares a MediaStream with every other peer, those that
   * join later too: the host sends its tracks to every client; a client
   * sends them to the host, which forwards them to every other client.
   * Tracks are added to live connections and negotiated over their
   * DataChannels. options caps each sender, per viewer (maxBitrate in
   * bits per second, scaleResolutionDownBy for video); the config's
   * maxBitrate and scaleResolutionDownBy are the defaults. It returns
   * whether it shares the stream; when not, events.error says why
   * (share_forbidden: a client while clientsMayShare is false;
   * bad_stream_options).
   */
  shareStream(stream, options = {}) {
    if (!this.canShare(options)) return false
    const caps = this.streamCaps(options)
    this.caps.set(stream, caps)
    if (this.iamHost) {
      this.streams.set(stream, this.peerId)
      for (const c of this.clients.values()) if (c.open) c.addStream(stream, undefined, caps)
      return true
    }
    this.ownStreams.add(stream)
    if (this.upstream?.open) this.upstream.addStream(stream, undefined, caps)
    return true
  }

  /**
   * canShare tells whether this peer may share a stream with options;
   * when not, events.error says why: share_forbidden (a client while the
   * config says clientsMayShare: false; the host always may),
   * bad_stream_options (an option out of its bounds).
   */
  canShare(options) {
    const caps = this.streamCaps(options)
    const bad = !(Number.isFinite(caps.maxBitrate) && caps.maxBitrate >= 0 && caps.maxBitrate <= MAX_MAX_BITRATE) ||
      !(caps.scaleResolutionDownBy >= 1 && caps.scaleResolutionDownBy <= MAX_SCALE_RESOLUTION_DOWN_BY)
    if (bad) {
      this.events.error({
        code: Code.BadStreamOptions,
        message: `maxBitrate ${caps.maxBitrate} (0 to ${MAX_MAX_BITRATE} bits/s), scaleResolutionDownBy ${caps.scaleResolutionDownBy} (1 to ${MAX_SCALE_RESOLUTION_DOWN_BY})`,
      })
      return false
    }
    if (!this.iamHost && this.config.clientsMayShare === false) {
      this.events.error({ code: Code.ShareForbidden, message: "clients may not share streams in this session (clientsMayShare is false)" })
      return false
    }
    return true
  }

  // streamCaps: a share's sender caps, its options over the config's.
  streamCaps(options) {
    const o = options && typeof options === "object" ? options : {}
    return {
      maxBitrate: o.maxBitrate ?? this.config.maxBitrate,
      scaleResolutionDownBy: o.scaleResolutionDownBy ?? this.config.scaleResolutionDownBy,
    }
  }

  /** stopStream stops sharing a stream: every peer sees it end. */
  stopStream(stream) {
    if (this.iamHost) {
      if (this.streams.get(stream) !== this.peerId) return false
      this.streams.delete(stream)
      for (const c of this.clients.values()) c.removeStream(stream)
      return true
    }
    if (!this.ownStreams.delete(stream)) return false
    this.upstream?.removeStream(stream)
    return true
  }

  // forward (host): a client shares stream; every other client gets it,
  // with who shares it.
  forward(from, stream) {
    this.streams.set(stream, from)
    for (const [id, c] of this.clients) if (id !== from && c.open) c.addStream(stream, from, this.capsOf(stream))
  }

  // capsOf: the caps of a stream this peer shares, else (a client's, which
  // it forwards) the config's.
  capsOf(stream) {
    return this.caps.get(stream) ?? this.streamCaps()
  }

  unforward(from, stream) {
    if (this.streams.get(stream) !== from) return
    this.streams.delete(stream)
    for (const [id, c] of this.clients) if (id !== from) c.removeStream(stream)
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
    this.retryTimer = setTimeout(() => this.join(), backoff(this.attempt++))
  }

  onSignal(m) {
    if (this.stopped || m.type !== SIGNAL) return
    switch (m.state) {
      case Signal.SessionReady:
        if (m.peerId === this.peerId) this.onJoined(m)
        else if (this.iamHost && this.joined) this.addClient(m.peerId, m.iceServers)
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
      case Signal.HostProbe:
        // The server asks whether this host's code runs: answering proves it.
        this.signal({ state: Signal.HostAlive })
        break
      case Signal.Error:
        this.onError(m)
        break
      // ServerShutdown: the socket closes next; onSignalingClosed handles it.
    }
  }

  onJoined(m) {
    this.joined = true
    this.unreachable = false
    this.iceServers = m.iceServers // fresh TURN credentials for the link to the host
    if (m.config && typeof m.config === "object") this.config = normalizeConfig({ ...this.config, ...m.config })
    this.hostPeerId = m.hostPeerId
    if (this.lastHost && this.lastHost !== m.hostPeerId) this.events.hostChanged?.({ previous: this.lastHost, current: m.hostPeerId })
    this.lastHost = m.hostPeerId
    if (m.hostPeerId === this.peerId) {
      this.becomeHost()
      return
    }
    if (this.iamHost) this.dropHostRole()
    // The host this client lost is host still: tell the server, which asks
    // it to answer and resets the session when it does not (a frozen tab).
    if (this.suspect === m.hostPeerId) this.signal({ state: Signal.HostUnreachable, hostPeerId: m.hostPeerId })
    this.suspect = null
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
    if (err.code === "host_unresponsive") {
      // This host did not answer the server's probe (its page was frozen):
      // the session was reset without it and the server closes the socket.
      // Its clients have moved on: find the session's host again.
      this.events.error(err)
      this.signaling.close()
      this.joined = false
      if (this.iamHost) this.dropHostRole()
      this.hostLost("host_unresponsive")
      return
    }
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

  onSignalingClosed(info) {
    this.joined = false
    if (this.stopped) return
    // A socket that never opened: wrong URL, server down or refusing. Say so
    // once (the app shows it), and keep trying: a server may come back.
    if (info && info.opened === false && this.state === State.Negotiating && !this.unreachable) {
      this.unreachable = true
      this.events.error({ code: "signaling_unreachable", message: `cannot open the signaling WebSocket ${this.signaling.url ?? ""}`.trim() })
    }
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
      this.streams = new Map([...this.ownStreams].map((st) => [st, this.peerId])) // a new host shares its own
      this.ownStreams.clear()
      this.takeOverState()
      clearInterval(this.stateTimer)
      this.stateTimer = setInterval(() => this.stateDirty && this.sendHostState(), HOST_STATE_EVERY_MLS)
    }
    this.setState(State.Connected)
    this.broadcastStates()
  }

  // takeOverState: a new host restores the last snapshot of the old one and
  // delivers again the messages that came after it.
  takeOverState() {
    const { snapshot, since } = this
    this.snapshot = undefined
    this.since = []
    if (snapshot === undefined) return
    this.events.restoreState?.(snapshot)
    for (const m of since) this.events.message(m)
  }

  // sendHostState sends the app's snapshot to every open client, or to one.
  sendHostState(conn) {
    if (!conn) this.stateDirty = false
    const state = this.events.hostState?.()
    if (state === undefined || state === null) return
    const msg = { type: Message.HostState, data: state }
    if (conn) conn.send(msg)
    else for (const c of this.clients.values()) if (c.open) c.send(msg)
  }

  // dropHostRole: this peer joined again after losing its WebSocket and
  // someone else hosts now. Its clients will find their host gone.
  dropHostRole() {
    this.iamHost = false
    clearInterval(this.stateTimer)
    for (const c of this.clients.values()) retire(c)
    this.clients.clear()
    this.clearForgetTimers()
    this.states = new Map()
  }

  addClient(id, iceServers) {
    clearTimeout(this.forgetTimers.get(id))
    this.forgetTimers.delete(id)
    retire(this.clients.get(id)) // a reload: the old connection is over
    const conn = this.newConnection(id, true, iceServers)
    this.clients.set(id, conn)
    const current = () => this.clients.get(id) === conn
    conn.onstate = (s) => {
      if (!current()) return
      if (isFinal(s)) {
        this.clients.delete(id)
        this.forgetLater(id)
      }
      if (s === State.Connected) conn.connectedAt ??= Date.now() // the longest-connected client is the successor
      // A client that joins gets every stream being shared.
      if (s === State.Connected) {
        for (const [st, from] of this.streams) if (from !== id) conn.addStream(st, from === this.peerId ? undefined : from, this.capsOf(st))
      }
      this.setPeerState(id, s)
      if (s === State.Connected) this.sendHostState(conn) // the newcomer gets the room's state
    }
    conn.onnamed = (name, msg, known) => current() && this.onNamed(conn, name, msg, known)
    for (const spec of this.channels.values()) conn.openNamed(spec)
    conn.onmessage = (msg) => {
      if (current() && msg.type === Message.Channel) this.onDeclared(conn, msg.data)
      if (!current() || msg.type !== Message.Data) return
      if (msg.tooLarge || payloadSize(msg.data) > this.config.maxMessageSize) {
        // Delivered or reported: the sender hears why it was not relayed.
        conn.sendNow({ type: Message.Error, code: Code.TooLarge, message: "the host refused a message over its maximum size" })
        return
      }
      this.relay({ type: Message.Data, senderId: id, data: msg.data })
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

  // relay delivers msg to this host and to every client: Data messages are
  // held for a client still negotiating; a state map (hold false) goes
  // only to open ones. A client the message cannot be queued for is dropped.
  // The host's own message (own) is paced by its fastest client, as the Go
  // host's Send: when even the least-queued open client cannot take it, it
  // goes nowhere and relay returns the error (slow_reader) for send to
  // report, instead of dropping every client.
  relay(msg, hold = true, own = false) {
    let fastest = null
    if (own) {
      for (const c of this.clients.values()) {
        if (c.open && !c.healing && (!fastest || c.queuedBytes < fastest.queuedBytes)) fastest = c
      }
      const err = fastest?.send(msg)
      if (err) return { code: err.code, message: `not sent: even the fastest client cannot take it (${err.message}); send again later` }
    }
    this.events.message(msg)
    if (msg.type === Message.Data) this.stateDirty = true
    const slow = []
    for (const [id, c] of this.clients) {
      if (c === fastest || (!hold && !c.open)) continue
      const err = c.send(msg)
      if (err) slow.push([c, err])
    }
    this.dropSlow(slow)
  }

  // dropSlow drops the clients the relay could not queue for: [conn, err] pairs.
  dropSlow(slow) {
    for (const [c, err] of slow) {
      this.slowDrops++
      this.events.error({ code: Code.SlowReader, message: `dropped a client that cannot keep up: ${err.message}` })
      c.close(State.Failed)
    }
  }

  setPeerState(id, s) {
    if (this.states.get(id) === s) return
    this.states.set(id, s)
    this.broadcastStates()
  }

  broadcastStates() {
    this.relay({ type: Message.ConnectionState, data: Object.fromEntries(this.states) }, false)
    this.reportStates()
  }

  // successor is the client the host names to host after it (PeerStates):
  // the one connected longest, as the Go host does; undefined when none is.
  successor() {
    let best
    for (const [id, c] of this.clients) {
      if (c.connectedAt === undefined || this.states.get(id) !== State.Connected) continue
      if (!best || c.connectedAt < best.at || (c.connectedAt === best.at && id < best.id)) best = { id, at: c.connectedAt }
    }
    return best?.id
  }

  // reportStates tells the server the map too (PeerStates: its presence
  // stays true after clients close their WebSockets) and its successor, at
  // most every REPORT_MLS: changes in between go out together, the latest
  // map winning.
  reportStates() {
    if (this.reportTimer) return
    const send = () => {
      this.reportTimer = null
      this.lastReport = Date.now()
      if (this.iamHost && this.joined) this.signal({ state: Signal.PeerStates, data: Object.fromEntries(this.states), successor: this.successor() })
    }
    const wait = this.lastReport + REPORT_MLS - Date.now()
    if (wait <= 0) send()
    else this.reportTimer = setTimeout(send, wait)
  }

  // ---- client

  onOffer(from, offer) {
    clearTimeout(this.offerTimer)
    retire(this.upstream)
    const conn = this.newConnection(from, false, this.iceServers)
    this.upstream = conn
    conn.onstate = (s) => {
      if (this.upstream !== conn) return
      if (s === State.Connected) {
        this.attempt = 0
        for (const st of this.ownStreams) conn.addStream(st, undefined, this.capsOf(st)) // to the host, which forwards them
        for (const spec of this.channels.values()) conn.sendNow({ type: Message.Channel, data: spec }) // none is lost in a host change
        if (!this.config.keepCableConnection) {
          this.signaling.close()
          this.joined = false
        }
      }
      if (s === State.Failed && conn.failure) this.linkFailed(conn)
      if (isFinal(s)) this.hostLost(conn.failure || s)
      else this.setState(s)
    }
    conn.onsuspect = () => this.checkHost(conn)
    conn.onnamed = (name, msg, known) => this.upstream === conn && this.onNamed(conn, name, msg, known)
    conn.onchannel = (spec) => this.upstream === conn && !this.channels.has(spec.name) && this.channels.set(spec.name, spec)
    this.restored = false
    this.recent = []
    conn.onmessage = (msg) => {
      if (this.upstream !== conn) return
      if (msg.type === Message.Data) this.keepRecent(msg)
      if (msg.type === Message.Data || msg.type === Message.ConnectionState) this.events.message(msg)
      else if (msg.type === Message.HostState) this.keepHostState(msg.data, msg.after)
      else if (msg.type === Message.Error) this.events.error({ code: msg.code || "error", message: msg.message || "" })
    }
    conn.answer(offer).catch((e) => this.fail(from, e))
  }

  // checkHost asks the server, on a socket of its own and without joining
  // (a join would make the host renegotiate), whether the host of conn is
  // still alive (HostCheck): when conn starts healing, or when the host has
  // been silent for the idle timeout while ICE still says connected. The
  // server probes the host and answers with the outcome. A host whose node
  // died, or whose page does not answer, is gone: on HostLeft the client
  // gives the link up now and joins again, rather than at the end of
  // heal_timeout_mls or of twice the idle timeout. Anything else changes
  // nothing.
  checkHost(conn) {
    if (!this.signaling.ask) return
    this.signaling.ask({ type: SIGNAL, state: Signal.HostCheck, token: this.token, hostPeerId: conn.remoteId }).then((m) => {
      if (m?.state !== Signal.HostLeft || this.upstream !== conn || isFinal(conn.state)) return
      conn.failure = "host_left"
      conn.setState(State.Disconnected)
    })
  }

  // keepRecent keeps the last Data messages (bounded), for a snapshot that
  // says some came after it, and those after the last snapshot.
  keepRecent(msg) {
    if (this.recent.length >= 4096) this.recent = this.recent.slice(-2048)
    this.recent.push(msg)
    if (this.snapshot !== undefined) this.since.push(msg)
  }

  // keepHostState keeps the host's snapshot, taken before the last `after`
  // Data messages this client got (a Go host takes it on another thread);
  // the first one from this host replaces the app's state (a newcomer, or a
  // client after a host change), and those messages are delivered again.
  keepHostState(state, after = 0) {
    if (state === undefined || state === null) return
    this.snapshot = state
    this.since = after > 0 ? this.recent.slice(-after) : []
    if (this.restored) return
    this.restored = true
    this.events.restoreState?.(state)
    for (const m of this.since) this.events.message(m)
  }

  // hostLost: the client's way to its host is gone (its connection ended, the
  // server said HostLeft, or no offer came). Unless manualFailover it joins
  // again, and the first client back becomes the new host; with, it stays down.
  hostLost(reason) {
    clearTimeout(this.offerTimer)
    // A silent or vanished host is suspect; one whose offer came but whose
    // ICE path did not connect is not (it answered through the server).
    const suspect = reason !== "host_left" && reason !== "ice_failed" && this.hostPeerId !== this.peerId
    this.suspect = suspect ? this.hostPeerId : null
    const up = this.upstream
    this.upstream = null
    retire(up)
    const reconnecting = !this.config.manualFailover
    this.setState(State.Disconnected, { reason, reconnecting })
    if (reconnecting) this.retry()
    else {
      this.stopped = true
      this.signaling.close()
      this.joined = false
    }
  }

  // linkFailed reports a link to the host that could not connect: its code
  // (p2pError), then state failed, before hostLost retries with backoff.
  linkFailed(conn) {
    const secs = Math.round(this.config.connect_timeout_mls / 1000)
    this.events.error({ code: conn.failure, message: `no connection to the host within ${secs} s; trying again` })
    this.setState(State.Failed, { reason: conn.failure })
  }

  // ---- shared

  /** linkStats: per live link, direct or relayed and its RTT (from getStats). */
  linkStats() {
    const links = this.iamHost ? [...this.clients.values()] : this.upstream ? [this.upstream] : []
    return Promise.all(links.map((c) => linkStats(c.remoteId, c.pc)))
  }

  // iceServers: those of the SessionReady that announced the link (the
  // server's, with fresh credentials, then the config's), else the config's.
  newConnection(remoteId, offerer, iceServers) {
    const conn = new Connection({
      remoteId,
      offerer,
      config: this.config,
      iceServers,
      RTCPeerConnection: this.RTCPeerConnection,
      signal: (state, to, data) => this.signal({ state, to, data }),
    })
    conn.onlost = (n) =>
      this.events.error({ code: "messages_lost", message: `${n} messages for ${remoteId}, sent while the link was healing, were lost with it` })
    conn.onerror = (e) => this.events.error({ code: "webrtc", message: `renegotiation with ${remoteId}: ${e && e.message ? e.message : e}` })
    // A host of a session where clients may not share takes no track from
    // a client: it tells the client (and its own app) with the code.
    if (offerer && this.config.clientsMayShare === false) {
      conn.refuseTracks = true
      conn.onrefused = () => {
        const message = `${remoteId} sent a stream, but clients may not share in this session; it was refused`
        conn.sendNow({ type: Message.Error, code: Code.ShareForbidden, message })
        this.events.error({ code: Code.ShareForbidden, message })
      }
    }
    conn.onstream = (stream, from) => {
      this.events.stream?.(stream, { peerId: from })
      if (offerer) this.forward(remoteId, stream) // the host: a client's stream
    }
    conn.onstreamended = (stream, from) => {
      this.events.streamEnded?.(stream, { peerId: from })
      if (offerer) this.unforward(remoteId, stream)
    }
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
