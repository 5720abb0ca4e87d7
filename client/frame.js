// <p2p-frame token="…" config="{…}" [url="ws://…"]>: joins the session named
// by its signed token while it is in the document, and leaves when removed.
// The signaling endpoint is the url attribute, else the default set by
// setDefaultURL, else /p2p/ on the page's origin (where apps mount the
// Server): nothing depends on where the script itself was loaded from, so
// the client works the same bundled (ESM or IIFE) or not.
//
// It tells what happens in two ways:
// - DOM events on the element (they bubble): "p2p:state" ({state, ...detail}),
//   one per state as well ("p2p:negotiating", "p2p:connecting",
//   "p2p:connected", "p2p:disconnected", "p2p:closed", "p2p:failed"),
//   "p2p:message" (detail: the message; `channel` set on a named channel's), "p2p:error" (detail: {code, message}),
//   "p2p:hostchanged" ({previous, current}) and "p2p:restorestate" (the state);
// - the callbacks of registered listeners (P2pController), as the Rails gem
//   p2p_streams_channel calls them: p2pNegotiating, p2pConnecting,
//   p2pConnected, p2pDisconnected, p2pClosed, p2pError ({code, message}, for
//   every error, the one that made the state "failed" included),
//   p2pReceivedMessage; and p2pHostChanged({previous, current}), and for the
//   opt-in state hand-off p2pHostState() (asked of the first listener that
//   has it, on the host) and p2pRestoreState(state).
//
// A listener registered late is told the current state and the last state map
// at once (in a microtask, after its constructor has finished).

import { Peer } from "./peer.js"
import { capture } from "./media.js"
import { Code, Message, State } from "./protocol.js"
import { Signaling } from "./signaling.js"
import { channelSpec } from "./channels.js"

const CALLBACKS = {
  [State.Negotiating]: "p2pNegotiating",
  [State.Connecting]: "p2pConnecting",
  [State.Connected]: "p2pConnected",
  [State.Disconnected]: "p2pDisconnected",
  [State.Closed]: "p2pClosed",
  // Failed: the error that caused it went to p2pError just before.
}

let defaultEndpoint = "/p2p/"

/** setDefaultURL sets the endpoint of frames without a url attribute (absolute, or relative to the page). */
export function setDefaultURL(url) {
  defaultEndpoint = String(url)
}

/** defaultURL is the signaling endpoint of frames without a url attribute, as ws(s):. */
export function defaultURL() {
  return signalingURL("")
}

// signalingURL resolves the frame's url attribute, or the default when it is
// empty (absolute, or relative to the page; http(s) becomes ws(s)).
function signalingURL(attr) {
  const u = new URL(attr || defaultEndpoint, location.href)
  if (u.protocol === "https:") u.protocol = "wss:"
  else if (u.protocol === "http:") u.protocol = "ws:"
  return u.href
}

export class P2pFrameElement extends (globalThis.HTMLElement ?? class {}) {
  constructor() {
    super()
    this.listeners = new Set()
    this.channels = new Map() // the app's named channels: name -> options
    this.peer = null
    this.lastStates = null
    this.lastError = null
    this.stateDetail = {}
    // A closing page closes its connections itself, so that the other peers
    // see it go at once rather than after the heartbeat's idle timeout.
    this.onPageHide = () => this.stop({ leave: false })
    this.onPageShow = (e) => {
      if (e.persisted && this.isConnected && !this.peer) this.start()
    }
  }

  connectedCallback() {
    window.addEventListener("pagehide", this.onPageHide)
    window.addEventListener("pageshow", this.onPageShow)
    this.start()
  }

  disconnectedCallback() {
    window.removeEventListener("pagehide", this.onPageHide)
    window.removeEventListener("pageshow", this.onPageShow)
    this.stop({ leave: true })
  }

  start() {
    if (this.peer) return
    let config
    try {
      config = JSON.parse(this.getAttribute("config") || "{}")
      const signaling = new Signaling(signalingURL(this.getAttribute("url")))
      this.peer = new Peer({ token: this.getAttribute("token"), config, signaling, events: this.peerEvents() })
    } catch (e) {
      this.emitError({ code: "bad_frame", message: String(e && e.message ? e.message : e) })
      return
    }
    for (const [name, opts] of this.channels) this.peer.openChannel(name, opts)
    this.peer.start()
  }

  stop(opts) {
    const peer = this.peer
    this.peer = null
    this.lastStates = null
    peer?.stop(opts)
  }

  // ---- for apps

  /** send sends data (any JSON value, or bytes) to every peer, this one included; on a named channel with {channel}. */
  send(data, opts) {
    return this.peer ? this.peer.send(data, opts) : false
  }

  /**
   * openChannel opens a named channel (options: ordered, maxRetransmits or
   * maxPacketLifeTime) on every link of the session; its messages arrive
   * as p2p:message / p2pReceivedMessage with `channel` set. False (and
   * p2pError bad_channel) for a bad name or option.
   */
  openChannel(name, opts = {}) {
    if (!this.peer) {
      const { error } = channelSpec(name, opts)
      if (error) this.emitError(error)
      else this.channels.set(name, opts) // opened when the frame starts
      return !error
    }
    const ok = this.peer.openChannel(name, opts)
    if (ok) this.channels.set(name, opts) // a restarted frame opens them again
    return ok
  }

  get peerId() {
    return this.peer?.peerId
  }
  get sessionId() {
    return this.peer?.sessionId
  }
  get hostPeerId() {
    return this.peer?.hostPeerId
  }
  get iamHost() {
    return !!this.peer?.iamHost
  }
  get state() {
    return this.peer?.state ?? State.New
  }
  /** The frame config in effect (defaults filled in). */
  get config() {
    return this.peer?.config
  }
  /**
   * shareStream shares a MediaStream with every other peer (a client's goes
   * through the host); options {maxBitrate, scaleResolutionDownBy} cap each
   * viewer's senders (default: the config's).
   */
  shareStream(stream, options) {
    return this.peer ? this.peer.shareStream(stream, options) : false
  }

  /**
   * shareCamera captures the camera and microphone (getUserMedia with
   * constraints; by default video and audio, or video alone where there is
   * no microphone) and shares them; shareScreen captures a screen, window
   * or tab (getDisplayMedia). Each resolves to the stream it shares, or to
   * null after a p2pError with the code: media_denied (refused),
   * media_unavailable (no device, or no capture in this browser),
   * share_forbidden, bad_stream_options. A captured stream whose tracks
   * all end (the browser's own "stop sharing") stops being shared.
   */
  shareCamera(constraints, options) {
    return this.shareCaptured("camera", constraints, options)
  }

  shareScreen(constraints = { video: true }, options) {
    return this.shareCaptured("screen", constraints, options)
  }

  async shareCaptured(kind, constraints, options) {
    const peer = this.peer
    if (!peer || !peer.canShare(options)) return null // said why, before asking for the device
    let got = await capture(kind, constraints ?? { video: true, audio: true })
    if (got.error?.code === Code.MediaUnavailable && kind === "camera" && !constraints) got = await capture(kind, { video: true }) // no microphone
    if (got.error) {
      this.emitError(got.error)
      return null
    }
    const stream = got.stream
    if (this.peer !== peer || !peer.shareStream(stream, options)) {
      for (const t of stream.getTracks()) t.stop()
      return null
    }
    for (const t of stream.getTracks()) {
      t.addEventListener("ended", () => {
        if (stream.getTracks().every((x) => x.readyState === "ended")) peer.stopStream(stream)
      })
    }
    return stream
  }

  /** stopStream stops sharing a stream; every peer sees it end. */
  stopStream(stream) {
    return this.peer ? this.peer.stopStream(stream) : false
  }

  /** Per live link: direct or relayed (TURN), and its RTT. */
  linkStats() {
    return this.peer ? this.peer.linkStats() : Promise.resolve([])
  }

  addP2pListener(listener) {
    this.listeners.add(listener)
    queueMicrotask(() => {
      if (!this.listeners.has(listener)) return
      const cb = CALLBACKS[this.state]
      if (cb) call(listener, cb, this.stateDetail)
      if (this.state === State.Failed && this.lastError) call(listener, "p2pError", this.lastError)
      if (this.lastStates) call(listener, "p2pReceivedMessage", this.lastStates)
    })
  }

  removeP2pListener(listener) {
    this.listeners.delete(listener)
  }

  /** The Rails gem's name for addP2pListener. */
  setP2pListener(listener) {
    this.addP2pListener(listener)
  }

  // ---- from the peer

  peerEvents() {
    return {
      state: (state, detail) => {
        if (!this.peer && state !== State.Closed) return
        this.stateDetail = detail
        this.emit("p2p:state", { state, ...detail })
        this.emit("p2p:" + state, detail)
        const cb = CALLBACKS[state]
        if (cb) for (const l of [...this.listeners]) call(l, cb, detail)
      },
      message: (msg) => {
        if (msg.type === Message.ConnectionState) this.lastStates = msg
        this.emit("p2p:message", msg)
        for (const l of [...this.listeners]) call(l, "p2pReceivedMessage", msg)
      },
      error: (err) => this.emitError(err),
      stream: (stream, info) => {
        this.emit("p2p:stream", { stream, ...info })
        for (const l of [...this.listeners]) call(l, "p2pReceivedStream", stream, info)
      },
      streamEnded: (stream, info) => {
        this.emit("p2p:streamended", { stream, ...info })
        for (const l of [...this.listeners]) call(l, "p2pStreamEnded", stream, info)
      },
      hostChanged: (change) => {
        this.emit("p2p:hostchanged", change)
        for (const l of [...this.listeners]) call(l, "p2pHostChanged", change)
      },
      // The first listener that gives a state snapshot is the app's.
      hostState: () => {
        for (const l of this.listeners) {
          if (typeof l.p2pHostState !== "function") continue
          try {
            return l.p2pHostState()
          } catch (e) {
            queueMicrotask(() => {
              throw e
            })
            return undefined
          }
        }
        return undefined
      },
      restoreState: (state) => {
        this.emit("p2p:restorestate", state)
        for (const l of [...this.listeners]) call(l, "p2pRestoreState", state)
      },
    }
  }

  emitError(err) {
    this.lastError = err
    this.emit("p2p:error", err)
    for (const l of [...this.listeners]) call(l, "p2pError", err)
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true }))
  }
}

// call calls a listener's callback; one listener's exception must not stop
// the others, nor the peer logic that called us.
function call(listener, name, arg, arg2) {
  try {
    listener[name]?.(arg, arg2)
  } catch (e) {
    queueMicrotask(() => {
      throw e
    })
  }
}

if (globalThis.customElements && !customElements.get("p2p-frame")) {
  customElements.define("p2p-frame", P2pFrameElement)
}
