// Connection is one RTCPeerConnection between the host and one client, with
// the "p2pstreams" DataChannel the host opens, the trickled ICE candidates of
// that pair only, and the heartbeat over the channel.
//
// States go new -> negotiating -> connecting -> connected (each one always
// passed through), then end in one of
// disconnected / closed / failed (isFinal). A final state is never left: a
// peer that comes back gets a new Connection. Each change calls onstate once.
//
// Sending: send queues a peer message (in chunks when large, see wire.js)
// and hands pieces to the channel while its bufferedAmount is at most
// SEND_HIGH_WATER, resuming on bufferedamountlow. Before the channel opens
// the queue holds them (at most RELAY_MAX_HELD messages); the queue never
// holds more than queueLimit bytes. Past either bound send refuses with
// slow_reader rather than buffer without bound: delivered or reported.

import { CHANNEL_LABEL, Code, MAX_MAX_MESSAGE_SIZE, Message, RELAY_MAX_HELD, RELAY_MAX_QUEUED, SEND_HIGH_WATER, SEND_LOW_WATER, Signal, State, isFinal, rtcConfiguration } from "./protocol.js"
import { Reassembler, TOO_LARGE, encode, pieceSize } from "./wire.js"

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
    this.held = 0 // messages queued before the channel opened
    // Relayed bytes that may wait for this peer: two of the largest messages at least.
    this.queueLimit = Math.max(RELAY_MAX_QUEUED, 2 * config.maxMessageSize)
    this.chunks = new Reassembler(MAX_MAX_MESSAGE_SIZE + 65536)
    // A link that is not connected in time has failed (ice_failed): the
    // ICE path cannot connect, or the other end stopped answering.
    this.failure = null // the code of a failed state
    this.connectTimer = setTimeout(() => this.fail("ice_failed"), config.connect_timeout_mls)
    this.onstate = () => {}
    this.onmessage = () => {}

    const pc = new RTCPeerConnection(rtcConfiguration(config, iceServers))
    this.pc = pc
    pc.onicecandidate = (e) => {
      if (!e.candidate) return
      const c = e.candidate.toJSON()
      if (this.described) this.signal(Signal.IceCandidate, remoteId, c)
      else this.outgoing.push(c)
    }
    pc.onconnectionstatechange = () => {
      switch (pc.connectionState) {
        case "connecting":
          if (this.state === State.Negotiating) this.setState(State.Connecting)
          break
        case "failed":
          this.fail("ice_failed")
          break
        case "closed":
          this.setState(State.Closed)
          break
        // "disconnected" may heal by itself: the heartbeat decides.
      }
    }
    if (!offerer) {
      pc.ondatachannel = (e) => {
        if (e.channel.label === CHANNEL_LABEL && !this.channel) this.attach(e.channel)
      }
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
    const opened = this.channel?.readyState === "open"
    if (!opened && this.held >= RELAY_MAX_HELD) return { code: Code.SlowReader, message: `${this.remoteId}: too many messages held while it connects` }
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
    if (!ch || ch.readyState !== "open") return
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

  attach(channel) {
    this.channel = channel
    channel.binaryType = "arraybuffer"
    channel.bufferedAmountLowThreshold = SEND_LOW_WATER
    channel.onbufferedamountlow = () => this.pump()
    channel.onopen = () => {
      this.lastHeard = Date.now()
      this.startHeartbeat()
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
      if (msg === TOO_LARGE) msg = { type: Message.Data, tooLarge: true }
      if (!msg || typeof msg !== "object" || msg.type === Message.Heartbeat) return
      this.onmessage(msg)
    }
  }

  startHeartbeat() {
    const { interval_mls, idle_timeout_mls } = this.config.heartbeat
    this.timer = setInterval(() => {
      if (Date.now() - this.lastHeard > idle_timeout_mls) {
        this.setState(State.Disconnected)
        return
      }
      this.sendNow({ type: Message.Heartbeat })
    }, interval_mls)
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
      this.pending = this.outgoing = []
      this.queue = []
      this.queueHead = this.queuedBytes = 0
      if (this.channel) this.channel.onopen = this.channel.onclose = this.channel.onmessage = this.channel.onbufferedamountlow = null
      this.pc.onicecandidate = this.pc.onconnectionstatechange = this.pc.ondatachannel = null
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
