// Connection is one RTCPeerConnection between the host and one client, with
// the "p2pstreams" DataChannel the host opens, the trickled ICE candidates of
// that pair only, and the heartbeat over the channel.
//
// States go new -> negotiating -> connecting -> connected (each one always
// passed through), then end in one of
// disconnected / closed / failed (isFinal). A final state is never left: a
// peer that comes back gets a new Connection. Each change calls onstate once.
//
// Renegotiation: the first offer and answer go through the server; once the
// channel is open, every later change (an ICE restart, tracks) is
// negotiated over the channel itself (Negotiation.Description and
// Negotiation.Candidate messages, never given to the app) with the
// perfect-negotiation pattern: the client is polite (its crossing offer is
// rolled back), the host impolite (it ignores the client's crossing offer).
//
// Healing: a connected link whose path breaks (ICE disconnected or failed,
// or the remote silent while ICE is not connected) stays connected and
// heals: a browser client restarts ICE over the channel when its host is a
// browser too (SCTP delivers the offer when a path comes back; with a Go
// peer, ICE recovers by itself) and both sides hold what is sent meanwhile (at most RELAY_MAX_HELD
// messages), sending it in order once healed: ICE connected again and the
// remote heard since the break. A link not healed within heal_timeout_mls
// ends disconnected, and what it held is reported to onlost. A remote
// silent for the idle timeout while ICE still says connected is suspect
// (onsuspect: the client asks the server about its host), and after twice
// the idle timeout frozen (its page, not its path): disconnected.
//
// Sending: send queues a peer message (in chunks when large, see wire.js)
// and hands pieces to the channel while its bufferedAmount is at most
// SEND_HIGH_WATER, resuming on bufferedamountlow. Before the channel opens
// the queue holds them (at most RELAY_MAX_HELD messages); the queue never
// holds more than queueLimit bytes. Past either bound send refuses with
// slow_reader rather than buffer without bound: delivered or reported.

import { CHANNEL_LABEL, Code, MAX_MAX_MESSAGE_SIZE, Message, RELAY_MAX_HELD, RELAY_MAX_QUEUED, SEND_HIGH_WATER, SEND_LOW_WATER, Signal, State, isFinal, rtcConfiguration } from "./protocol.js"
import { Reassembler, TOO_LARGE, encode, pieceSize } from "./wire.js"
import { LinkChannel, channelSpec } from "./channels.js"

/** How long a renegotiation waits for ICE gathering, so that its description carries the candidates. */
const GATHER_WAIT_MLS = 1000

export class Connection {
  /**
   * @param {object} o
   * @param {string} o.remoteId the peer at the other end
   * @param {boolean} o.offerer true on the host, which makes the channel and the offer
   * @param {object} o.config a normalized frame config
   * @param {RTCIceServer[]} [o.iceServers] from SessionReady; default the config's ice_servers
   * @param {(state: string, to: string, data: object) => void} o.signal sends a routed signaling message
   * @param {typeof RTCPeerConnection} [o.RTCPeerConnection]
   */
  constructor({ remoteId, offerer, config, iceServers, signal, RTCPeerConnection = globalThis.RTCPeerConnection }) {
    this.remoteId = remoteId
    this.offerer = offerer
    this.config = config
    this.signal = signal
    this.state = State.New
    this.channel = null
    this.remoteSet = false
    this.pending = [] // remote candidates that came before the remote description
    this.outgoing = [] // local candidates found before our description was sent
    this.described = false
    this.lastHeard = 0
    this.timer = null
    this.queue = [] // pieces to send, oldest first, from queueHead on
    this.queueHead = 0
    this.queuedBytes = 0
    this.held = 0 // messages queued before the channel opened, or while it heals
    // Relayed bytes that may wait for this peer: two of the largest messages at least.
    this.queueLimit = Math.max(RELAY_MAX_QUEUED, 2 * config.maxMessageSize)
    this.chunks = new Reassembler(MAX_MAX_MESSAGE_SIZE + 65536)
    // A link that is not connected in time has failed (ice_failed): the
    // ICE path cannot connect, or the other end stopped answering.
    this.failure = null // the code of a failed state
    this.connectTimer = setTimeout(() => this.fail("ice_failed"), config.connect_timeout_mls)
    this.onstate = () => {}
    this.onmessage = () => {}
    this.onlost = (n) => {} // n held messages were lost with the link
    // The remote may be gone: the link started healing, or the remote has
    // been silent for the idle timeout while ICE still says connected.
    // Once per silence (not again until the remote is heard).
    this.onsuspect = () => {}
    this.suspectedAt = -1 // lastHeard when onsuspect was last called
    this.silentTimer = null
    this.onerror = (e) => {} // a renegotiation failed
    // perfect negotiation
    this.polite = !offerer
    this.makingOffer = false
    this.ignoreOffer = false
    this.settingAnswer = false
    // healing
    this.healing = false
    this.healSince = 0
    this.remoteRestarts = false // the remote said it takes ICE restarts over the channel (Negotiation.Features)
    this.heals = 0 // links healed (for tests)
    this.glares = 0 // renegotiation offers that crossed (for tests)
    // media: our senders by stream id (a forwarded stream may have lost its
    // tracks by the time it is removed); the remote's streams by id
    this.senders = new Map()
    this.remoteStreams = new Map()
    this.streamFrom = new Map() // stream id -> the peer that shares it, when not the remote (Negotiation.StreamFrom)
    this.onstream = (stream, from) => {}
    this.onstreamended = (stream, from) => {}
    this.refuseTracks = false // a host where clients may not share: it stops every track the client sends
    this.onrefused = () => {} // a refused track came (once per stream)
    // named channels (channels.js): name -> LinkChannel
    this.named = new Map()
    this.onnamed = (name, msg, known) => {} // a peer message on a named channel; known: the host opened it
    this.onchannel = (spec) => {} // client: the host opened a channel (learn it)

    const pc = new RTCPeerConnection(rtcConfiguration(config, iceServers))
    this.pc = pc
    pc.onicecandidate = (e) => {
      if (!e.candidate) return
      const c = e.candidate.toJSON()
      if (this.inBand) this.sendNow({ type: Message.Candidate, data: c })
      else if (this.described) this.signal(Signal.IceCandidate, remoteId, c)
      else this.outgoing.push(c)
    }
    pc.onconnectionstatechange = () => {
      switch (pc.connectionState) {
        case "connecting":
          if (this.state === State.Negotiating) this.setState(State.Connecting)
          break
        case "connected":
          this.checkHealed()
          break
        case "disconnected":
          if (this.state === State.Connected) this.startHeal()
          break
        case "failed":
          if (this.state === State.Connected) this.startHeal()
          else this.fail("ice_failed")
          break
        case "closed":
          this.setState(State.Closed)
          break
      }
    }
    pc.ontrack = (e) => {
      if (this.refuseTracks) return this.refuse(e)
      for (const stream of e.streams) {
        if (this.remoteStreams.has(stream.id)) continue
        this.remoteStreams.set(stream.id, stream)
        // The sharer removed its last track of it (a renegotiation): ended.
        stream.onremovetrack = () => {
          if (stream.getTracks().length === 0 && this.remoteStreams.delete(stream.id)) this.onstreamended(stream, this.streamFrom.get(stream.id) ?? this.remoteId)
        }
        this.onstream(stream, this.streamFrom.get(stream.id) ?? this.remoteId)
      }
    }
    pc.ondatachannel = (e) => {
      if (e.channel.label === CHANNEL_LABEL && !offerer && !this.channel) this.attach(e.channel)
      else this.takeNamed(e.channel)
    }
  }

  /** offer (host): open the channel and send the offer. */
  async offer() {
    this.attach(this.pc.createDataChannel(CHANNEL_LABEL))
    this.setState(State.Negotiating)
    const offer = await this.pc.createOffer()
    await this.pc.setLocalDescription(offer)
    this.sendDescription(Signal.SdpOffer)
  }

  /** answer (client): take the host's offer and send the answer. */
  async answer(offer) {
    this.setState(State.Negotiating)
    await this.setRemote(offer)
    const answer = await this.pc.createAnswer()
    await this.pc.setLocalDescription(answer)
    this.sendDescription(Signal.SdpAnswer)
    this.describedBoth()
  }

  /** accept (host): take the client's answer. */
  async accept(answer) {
    await this.setRemote(answer)
    this.describedBoth()
  }

  // describedBoth: offer and answer are set on this side, so ICE and DTLS are
  // under way. Said here as well as on the "connecting" event, which Chromium
  // may skip when the connection comes up within one task.
  describedBoth() {
    if (this.state === State.Negotiating) this.setState(State.Connecting)
  }

  /** addCandidate adds a remote ICE candidate, buffered until the remote description is set. */
  addCandidate(c) {
    if (isFinal(this.state)) return
    if (!this.remoteSet) this.pending.push(c)
    else this.pc.addIceCandidate(c).catch(() => {}) // a stale candidate is harmless
  }

  /**
   * send queues a peer message for the channel (held until it opens). It
   * returns null, or the error {code, message} that kept it from queueing.
   */
  send(msg) {
    if (isFinal(this.state)) return { code: Code.NotJoined, message: `${this.remoteId}: the connection is over` }
    // A healing link holds what is sent, as one not open yet.
    const opened = this.channel?.readyState === "open" && !this.healing
    if (!opened && this.held >= RELAY_MAX_HELD) return { code: Code.SlowReader, message: `${this.remoteId}: too many messages held while it connects or heals` }
    const pieces = encode(msg)
    let size = 0
    for (const p of pieces) size += pieceSize(p)
    if (this.queuedBytes + size > this.queueLimit) return { code: Code.SlowReader, message: `${this.remoteId}: the send queue is full` }
    for (const p of pieces) this.queue.push(p)
    this.queuedBytes += size
    if (!opened) this.held++
    this.pump()
    return null
  }

  // pump hands queued pieces to the channel while it has room.
  pump() {
    const ch = this.channel
    if (!ch || ch.readyState !== "open" || this.healing) return
    this.held = 0
    while (this.queueHead < this.queue.length && ch.bufferedAmount <= SEND_HIGH_WATER) {
      const p = this.queue[this.queueHead]
      this.queue[this.queueHead++] = undefined
      this.queuedBytes -= pieceSize(p)
      try {
        ch.send(p)
      } catch {
        this.setState(State.Failed) // the channel is going: nothing more can be sent
        return
      }
    }
    if (this.queueHead === this.queue.length) {
      this.queue = []
      this.queueHead = 0
    }
  }

  // sendNow sends a small control message at once, past the queue
  // (heartbeats, refusals); receivers take it between another message's chunks.
  sendNow(msg) {
    try {
      if (this.channel?.readyState === "open") this.channel.send(JSON.stringify(msg))
    } catch {
      // closing: the state change says so
    }
  }

  get open() {
    return this.state === State.Connected
  }

  /** close ends the connection in state `state` (closed by default). */
  close(state = State.Closed) {
    this.setState(state)
  }

  async setRemote(desc) {
    if (isFinal(this.state)) return
    await this.pc.setRemoteDescription(desc)
    this.remoteSet = true
    const pending = this.pending
    this.pending = []
    for (const c of pending) this.pc.addIceCandidate(c).catch(() => {})
  }

  sendDescription(state) {
    if (isFinal(this.state)) return
    const d = this.pc.localDescription
    this.signal(state, this.remoteId, { type: d.type, sdp: d.sdp })
    this.described = true
    const out = this.outgoing
    this.outgoing = []
    for (const c of out) this.signal(Signal.IceCandidate, this.remoteId, c)
  }

  // inBand: the channel is open, so negotiation goes over it.
  get inBand() {
    return !!this.channel && this.channel.readyState === "open"
  }

  attach(channel) {
    this.channel = channel
    channel.binaryType = "arraybuffer"
    channel.bufferedAmountLowThreshold = SEND_LOW_WATER
    channel.onbufferedamountlow = () => this.pump()
    channel.onopen = () => {
      this.lastHeard = Date.now()
      this.startHeartbeat()
      this.pc.onnegotiationneeded = () => this.negotiate()
      this.sendNow({ type: Message.Features, data: { iceRestart: true } })
      this.pump() // what was held for this peer goes first
      this.setState(State.Connected)
    }
    channel.onclose = () => this.setState(State.Disconnected)
    channel.onmessage = (e) => {
      this.lastHeard = Date.now()
      let msg
      try {
        msg = typeof e.data === "string" ? JSON.parse(e.data) : this.chunks.add(e.data)
      } catch {
        return // not ours: ignore
      }
      this.checkHealed()
      if (msg === TOO_LARGE) msg = { type: Message.Data, tooLarge: true }
      if (!msg || typeof msg !== "object" || msg.type === Message.Heartbeat) return
      if (msg.type === Message.Description) this.onDescription(msg.data)
      else if (msg.type === Message.Candidate) this.onCandidate(msg.data)
      else if (msg.type === Message.Features) this.remoteRestarts = msg.data?.iceRestart === true
      else if (msg.type === Message.StreamFrom) {
        if (typeof msg.data?.streamId === "string" && typeof msg.data?.peerId === "string") this.streamFrom.set(msg.data.streamId, msg.data.peerId)
      }
      else this.onmessage(msg)
    }
  }

  startHeartbeat() {
    const { interval_mls, idle_timeout_mls } = this.config.heartbeat
    this.timer = setInterval(() => {
      const now = Date.now()
      const idle = now - this.lastHeard
      if (this.healing) {
        if (now - this.healSince > this.config.heal_timeout_mls) {
          this.setState(State.Disconnected)
          return
        }
        this.checkHealed()
      } else if (idle > idle_timeout_mls && this.pc.connectionState !== "connected") {
        this.startHeal()
      } else if (idle > 2 * idle_timeout_mls) {
        this.setState(State.Disconnected) // frozen: ICE answers, the page does not
        return
      } else if (idle > idle_timeout_mls) {
        this.suspect()
      } else if (idle_timeout_mls - idle < interval_mls) {
        // The idle timeout passes before the next tick: look then, not up
        // to an interval late.
        clearTimeout(this.silentTimer)
        this.silentTimer = setTimeout(() => {
          if (!this.healing && !isFinal(this.state) && Date.now() - this.lastHeard > idle_timeout_mls) this.suspect()
        }, idle_timeout_mls - idle + 1)
      }
      this.sendNow({ type: Message.Heartbeat })
    }, interval_mls)
  }

  suspect() {
    if (this.suspectedAt === this.lastHeard) return
    this.suspectedAt = this.lastHeard
    this.onsuspect()
  }

  // ---- renegotiation over the channel (perfect negotiation)

  async negotiate() {
    if (!this.inBand || isFinal(this.state)) return
    try {
      this.makingOffer = true
      await this.pc.setLocalDescription()
    } catch {
      return // another description won; negotiationneeded fires again when stable
    } finally {
      this.makingOffer = false
    }
    await this.gathered()
    const d = this.pc.localDescription
    if (d && d.type === "offer" && this.pc.signalingState === "have-local-offer") this.sendInBand(d)
  }

  async onDescription(desc) {
    if (isFinal(this.state) || !desc || typeof desc !== "object") return
    const pc = this.pc
    try {
      const ready = !this.makingOffer && (pc.signalingState === "stable" || this.settingAnswer)
      const collision = desc.type === "offer" && !ready
      this.ignoreOffer = !this.polite && collision
      if (collision) this.glares++
      if (this.ignoreOffer) return
      this.settingAnswer = desc.type === "answer"
      await pc.setRemoteDescription(desc) // a polite side's crossing offer rolls back here
      this.settingAnswer = false
      if (desc.type === "offer") {
        await pc.setLocalDescription()
        await this.gathered()
        this.sendInBand(pc.localDescription)
      }
    } catch (e) {
      this.settingAnswer = false
      if (!isFinal(this.state)) this.onerror(e)
    }
  }

  async onCandidate(c) {
    if (isFinal(this.state) || !c || typeof c !== "object") return
    try {
      await this.pc.addIceCandidate(c)
    } catch {
      // a candidate of an offer we ignored, or of a past ICE generation
    }
  }

  sendInBand(d) {
    this.sendNow({ type: Message.Description, data: { type: d.type, sdp: d.sdp } })
  }

  // gathered waits (a little) for ICE gathering, so that a restart's
  // description carries its candidates: the remote may not be able to
  // receive trickled ones until the new path works.
  gathered() {
    const pc = this.pc
    if (pc.iceGatheringState === "complete") return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t)
        pc.removeEventListener("icegatheringstatechange", check)
        resolve()
      }
      const check = () => pc.iceGatheringState === "complete" && done()
      const t = setTimeout(done, GATHER_WAIT_MLS)
      pc.addEventListener("icegatheringstatechange", check)
    })
  }

  // ---- healing

  startHeal() {
    if (this.healing || isFinal(this.state)) return
    this.healing = true
    this.healSince = Date.now()
    this.suspect()
    // The client restarts ICE (the host's side restarts as it answers):
    // one side only, so restarts do not cross; and only with a peer that
    // says it can take a restart over the channel (a browser: Go peers on
    // pion drop their candidate pairs on a restart, so the answer could not
    // leave; they heal as ICE recovers by itself).
    if (this.polite && this.remoteRestarts) this.pc.restartIce() // negotiationneeded: the offer goes over the channel
  }

  checkHealed() {
    if (!this.healing || this.pc.connectionState !== "connected" || this.lastHeard <= this.healSince) return
    this.healing = false
    this.heals++
    this.pump() // what was held while it healed, in order
  }

  // ---- media: tracks are added and removed on the live connection, and
  // negotiated over the channel (negotiationneeded)

  /**
   * addStream sends stream's tracks to the remote peer; from: who shares
   * it, when not this peer; caps: {maxBitrate, scaleResolutionDownBy} for
   * each of its senders (0 and 1: none).
   */
  addStream(stream, from, caps) {
    if (isFinal(this.state)) return
    if (from) this.sendNow({ type: Message.StreamFrom, data: { streamId: stream.id, peerId: from } })
    const senders = this.senders.get(stream.id) ?? []
    for (const track of stream.getTracks()) {
      if (senders.some((s) => s.track === track)) continue
      const sender = this.pc.addTrack(track, stream)
      senders.push(sender)
      if (caps) capSender(sender, caps).catch((e) => this.onerror(e))
    }
    this.senders.set(stream.id, senders)
  }

  // refuse stops a track the remote may not send (its transceiver: the
  // remote stops sending it at the next negotiation) and tells onrefused
  // once per stream.
  refuse(e) {
    try {
      e.transceiver.stop()
    } catch {
      // closed meanwhile
    }
    const id = e.streams[0]?.id ?? e.track.id
    this.refused ??= new Set()
    if (this.refused.has(id)) return
    this.refused.add(id)
    this.onrefused()
  }

  /** removeStream stops sending stream's tracks; the remote sees the stream end. */
  removeStream(stream) {
    const senders = this.senders.get(stream.id) ?? []
    this.senders.delete(stream.id)
    for (const sender of senders) {
      try {
        this.pc.removeTrack(sender)
      } catch {
        // closed meanwhile
      }
    }
  }

  /** senderCaps: the encodings of every video and audio sender (for tests and stats). */
  senderCaps() {
    return this.pc.getSenders().filter((s) => s.track).map((s) => ({ kind: s.track.kind, encodings: s.getParameters().encodings ?? [] }))
  }

  // ---- named channels (channels.js)

  /** namedChannel returns the LinkChannel of name, made empty (queueing) until its RTCDataChannel comes. */
  namedChannel(name) {
    let lc = this.named.get(name)
    if (!lc) {
      lc = new LinkChannel(name, this.queueLimit)
      lc.onmessage = (msg) => {
        this.lastHeard = Date.now()
        this.onnamed(name, msg, lc.known)
      }
      this.named.set(name, lc)
    }
    return lc
  }

  /** openNamed (host): open the channel spec on this link, unless it has it. */
  openNamed(spec) {
    if (isFinal(this.state) || this.named.get(spec.name)?.channel) return
    const { name, ...init } = spec
    this.namedChannel(name).attach(this.pc.createDataChannel(name, init), true)
  }

  /** sendNamed queues a peer message on the named channel; null or the error. */
  sendNamed(name, msg) {
    if (isFinal(this.state)) return { code: Code.NotJoined, message: `${this.remoteId}: the connection is over` }
    return this.namedChannel(name).send(msg)
  }

  // takeNamed: a channel the remote opened. A client knows its host's (and
  // learns them); a host never opened what a client opens by itself: what
  // comes on it is reported, not relayed.
  takeNamed(dc) {
    const known = !this.offerer && !channelSpec(dc.label).error && !this.named.get(dc.label)?.channel
    if (!known) {
      const lc = new LinkChannel(dc.label, 0)
      lc.onmessage = (msg) => this.onnamed(dc.label, msg, false)
      lc.attach(dc, false)
      return
    }
    const lc = this.namedChannel(dc.label)
    lc.attach(dc, true)
    this.onchannel(lc.spec)
  }

  /** fail ends a connection that is not connected yet in state failed, with code. */
  fail(code) {
    if (this.state === State.Connected || isFinal(this.state)) return
    this.failure = code
    this.setState(State.Failed)
  }

  setState(s) {
    if (s === this.state || isFinal(this.state)) return
    this.state = s
    if (s === State.Connected || isFinal(s)) clearTimeout(this.connectTimer)
    if (isFinal(s)) {
      clearInterval(this.timer)
      clearTimeout(this.silentTimer)
      const lost = this.held // queued while it healed, and never sent
      this.held = 0
      if (lost && this.healing) this.onlost(lost)
      const streams = [...this.remoteStreams.values()]
      this.remoteStreams.clear()
      for (const st of streams) this.onstreamended(st, this.streamFrom.get(st.id) ?? this.remoteId) // its link ended
      this.pending = this.outgoing = []
      this.queue = []
      this.queueHead = this.queuedBytes = 0
      for (const lc of this.named.values()) lc.close()
      this.named.clear()
      if (this.channel) this.channel.onopen = this.channel.onclose = this.channel.onmessage = this.channel.onbufferedamountlow = null
      this.pc.onicecandidate = this.pc.onconnectionstatechange = this.pc.ondatachannel = this.pc.onnegotiationneeded = this.pc.ontrack = null
      try {
        this.channel?.close()
        this.pc.close()
      } catch {
        // already closed
      }
    }
    this.onstate(s)
  }
}

// capSender sets a sender's first encoding to caps: maxBitrate (when set)
// and, for video, scaleResolutionDownBy. Chromium gives a new sender its
// encoding at once (checked in TestStreamCaps); a browser that gives none
// before negotiation leaves that sender uncapped.
async function capSender(sender, caps) {
  const p = sender.getParameters()
  if (!p.encodings?.length) return
  const e = p.encodings[0]
  if (caps.maxBitrate > 0) e.maxBitrate = caps.maxBitrate
  else delete e.maxBitrate
  if (sender.track?.kind === "video") e.scaleResolutionDownBy = caps.scaleResolutionDownBy || 1
  await sender.setParameters(p)
}
