// Connection is one RTCPeerConnection between the host and one client, with
// the "p2pstreams" DataChannel the host opens, the trickled ICE candidates of
// that pair only, and the heartbeat over the channel.
//
// States go new -> negotiating -> connecting -> connected (each one always
// passed through), then end in one of
// disconnected / closed / failed (isFinal). A final state is never left: a
// peer that comes back gets a new Connection. Each change calls onstate once.

import { CHANNEL_LABEL, Message, Signal, State, isFinal, rtcConfiguration } from "./protocol.js"

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
          this.setState(State.Failed)
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

  /** send sends a peer message if the channel is open; it reports whether it did. */
  send(msg) {
    if (!this.channel || this.channel.readyState !== "open") return false
    try {
      this.channel.send(JSON.stringify(msg))
      return true
    } catch {
      return false
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
    channel.onopen = () => {
      this.lastHeard = Date.now()
      this.startHeartbeat()
      this.setState(State.Connected)
    }
    channel.onclose = () => this.setState(State.Disconnected)
    channel.onmessage = (e) => {
      this.lastHeard = Date.now()
      let msg
      try {
        msg = JSON.parse(e.data)
      } catch {
        return // not ours: ignore
      }
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
      this.send({ type: Message.Heartbeat })
    }, interval_mls)
  }

  setState(s) {
    if (s === this.state || isFinal(this.state)) return
    this.state = s
    if (isFinal(s)) {
      clearInterval(this.timer)
      this.pending = this.outgoing = []
      if (this.channel) this.channel.onopen = this.channel.onclose = this.channel.onmessage = null
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
