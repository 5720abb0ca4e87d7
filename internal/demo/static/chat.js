// The chat room's controller: the demo that `p2pstreams serve` shows, and
// the static/chat_controller.js that `p2pstreams new` writes into new apps.
// It is the Rails gem p2p_streams_channel's chat_controller.js without
// Stimulus, plus what a room needs to read well: the host and "you" marked
// in the peer list, a line in the chat for each join, leave, host change and
// reconnect, timestamps, an empty state, and words for people for every error.
//
// The page gives it, inside or around a <p2p-frame>: #peers (items "NAME:
// STATE"), #lines (messages "SENDER: TEXT" as <div>, system lines as <p>),
// #empty, #status, #role, and the form #send with #message and its button.
// Text from peers is always set as text (textContent), never as HTML.
import { P2pController, isCaptureSupported } from "p2pstreams"

// Words for people, for each code p2pError can bring (PROTOCOL.md's and the
// client's own); anything else falls back to the code and the server's words.
const ERRORS = {
  peer_connected: "You are already in this room in another tab or window. Close it, or join with another name.",
  already_open: "You are already in this room in another tab. Close it, or join with another name.",
  session_full: "This room is full. Try again later, or pick another room.",
  bad_token: "This page's ticket to the room is not valid. Go back and join again.",
  token_expired: "This page has been open too long: its ticket to the room expired. Go back and join again.",
  session_expired: "Your time in this room is over. Go back and join again.",
  origin_forbidden: "This server does not accept pages from this address.",
  unavailable: "The server is busy or restarting. Trying again…",
  rate_limited: "Too many messages at once: slow down a little.",
  join_timeout: "Joining took too long. Trying again…",
  server_shutdown: "The server is restarting. Trying again…",
  signaling_unreachable: "Cannot reach the server. Is it running? Trying again…",
  ice_failed: "No direct connection to the host could be made (a firewall, or a network without a relay). Trying again…",
  host_unresponsive: "The host stopped answering. Finding a new one…",
  webrtc: "The browser could not set up the peer-to-peer connection. Trying again…",
  message_too_large: "That message is too long to send.",
  slow_reader: "A peer could not keep up and was dropped; it will rejoin.",
  bad_frame: "This page is broken: its room element cannot be read.",
  media_denied: "Your camera, microphone or screen cannot be used: the browser was not allowed to. Allow it (the icon in the address bar) and try again.",
  media_unavailable: "No camera or screen could be captured: none is connected, another app is using it, or this browser cannot capture here.",
  share_forbidden: "Only the host can share video in this room.",
  bad_stream_options: "This page asked for video settings that cannot be used.",
}

/** errorText is what the room says for a p2pError. */
export function errorText(err) {
  return ERRORS[err.code] ?? `Something went wrong (${err.code}${err.message ? ": " + err.message : ""}).`
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" })

export default class ChatController extends P2pController {
  constructor(element) {
    super(element)
    this.peers = element.querySelector("#peers")
    this.lines = element.querySelector("#lines")
    this.empty = element.querySelector("#empty")
    this.status = element.querySelector("#status")
    this.input = element.querySelector("#message")
    this.button = element.querySelector("#send button")
    this.role = document.getElementById("role")
    this.links = element.querySelector("#links")
    // Every 2 s: is each link direct or relayed (TURN), and its RTT.
    this.linkTimer = this.links && setInterval(() => this.showLinks(), 2000)
    this.known = null // the last state map: name -> state (null before the first)
    this.seen = new Set() // everyone seen connected, to tell "joined" from "is back"
    this.host = null // the host named in the last system line
    this.lost = false // this page lost the host and has not connected since
    this.error = false // the status shows an error until connected again
    // Streams: the Share camera and Share screen buttons, and every shared video.
    this.videos = element.querySelector("#videos")
    this.sharing = {} // kind ("camera", "screen") -> the stream this page shares
    this.shareButtons = {
      camera: element.querySelector("#share"),
      // Share screen only where the browser can capture one.
      screen: isCaptureSupported("screen") ? element.querySelector("#screen") : null,
    }
    for (const [kind, button] of Object.entries(this.shareButtons)) button?.addEventListener("click", () => this.toggleShare(kind))
    // Every chat message [sender, data, time], in the host's order: the state
    // the library hands to newcomers and to a new host (p2pHostState), so
    // that every page shows the whole history, once, across host changes.
    this.history = []
    element.querySelector("#send").addEventListener("submit", (e) => {
      e.preventDefault()
      this.send()
    })
  }

  // joining the session through the server
  p2pNegotiating() {
    if (!this.error) this.showStatus(this.lost ? "Reconnecting…" : "Joining…")
    this.enable(false)
  }

  // connecting directly to the host
  p2pConnecting() {
    if (!this.error) this.showStatus("Connecting to the host…")
  }

  // connected to the host (or the host itself): messages can go now
  p2pConnected() {
    this.error = false
    this.showStatus("")
    this.enable(true)
    this.role.textContent = this.iamHost ? "(host)" : ""
    for (const button of Object.values(this.shareButtons)) if (button) button.hidden = false
    if (this.lost) this.system("reconnected")
    this.lost = false
  }

  // the host is gone; reconnecting: automatic failover finds a new one
  p2pDisconnected(detail) {
    this.enable(false)
    this.role.textContent = ""
    const host = this.hostPeerId
    if (!this.lost && host && host !== this.peerId) this.system(`lost the connection to the host, ${host}`)
    this.lost = true
    // An error just shown (ice_failed, host_unresponsive) says more: it stays.
    if (detail && detail.reconnecting) {
      if (!this.error) this.showStatus("The host left: finding a new one…")
    } else this.showStatus("Stream disconnected! please refresh to continue", true)
    // Nothing this page shows may still say "connected": it reaches no one.
    for (const li of this.peers.children) {
      const name = li.dataset.name
      if (name === host || name === this.peerId) this.setItem(li, name, "disconnected")
      else li.classList.add("stale")
    }
  }

  p2pClosed() {
    this.enable(false)
  }

  p2pError(err) {
    this.error = true
    this.showStatus(errorText(err), true)
  }

  p2pReceivedStream(stream, { peerId }) {
    this.showVideo(peerId, stream)
  }

  p2pStreamEnded(stream) {
    this.hideVideo(stream)
  }

  p2pReceivedMessage(message) {
    switch (message.type) {
      case "Data": {
        const time = clock.format(new Date())
        this.history.push([message.senderId, message.data, time])
        this.say(message.senderId, message.data, time)
        break
      }
      case "Data.Connection.State":
        this.showPeers(message.data)
        break
    }
  }

  // ---- streams

  // toggleShare shares this page's camera or screen, or stops sharing it.
  async toggleShare(kind) {
    const button = this.shareButtons[kind]
    const label = kind === "screen" ? "Share screen" : "Share camera"
    const shared = this.sharing[kind]
    if (shared) {
      this.p2pStopStream(shared)
      for (const t of shared.getTracks()) t.stop()
      this.ended(kind, shared, label)
      return
    }
    button.disabled = true
    // A refusal or a missing device comes to p2pError, which says it in words.
    const stream = kind === "screen" ? await this.p2pShareScreen() : await this.p2pShareCamera()
    button.disabled = false
    if (!stream) return
    this.sharing[kind] = stream
    this.showVideo(this.peerId, stream) // your own, muted
    button.textContent = "Stop sharing"
    // The browser's own "Stop sharing" (a screen) ends the tracks: the library stops the share.
    for (const t of stream.getTracks()) t.addEventListener("ended", () => stream.getTracks().every((x) => x.readyState === "ended") && this.ended(kind, stream, label))
  }

  ended(kind, stream, label) {
    if (this.sharing[kind] !== stream) return
    this.sharing[kind] = null
    this.hideVideo(stream)
    this.shareButtons[kind].textContent = label
  }

  // showVideo shows a stream of name's in the grid, labelled with the name.
  showVideo(name, stream) {
    let fig = [...this.videos.children].find((f) => f.dataset.stream === stream.id)
    if (!fig) {
      fig = document.createElement("figure")
      fig.dataset.name = name
      fig.dataset.stream = stream.id
      const video = document.createElement("video")
      video.autoplay = video.playsInline = video.muted = true // muted: browsers autoplay only so
      video.controls = name !== this.peerId
      const caption = document.createElement("figcaption")
      caption.textContent = name
      fig.append(video, caption)
      this.videos.append(fig)
    }
    const video = fig.querySelector("video")
    video.srcObject = stream
    video.play().catch(() => {})
  }

  hideVideo(stream) {
    ;[...this.videos.children].find((f) => f.dataset.stream === stream.id)?.remove()
  }

  // the room's state for a newcomer or a new host (the library asks the host)
  p2pHostState() {
    return { history: this.history }
  }

  // replace what this page shows with the host's history
  p2pRestoreState(state) {
    if (!state || !Array.isArray(state.history)) return
    for (const d of [...this.lines.querySelectorAll(":scope > div")]) d.remove()
    this.history = []
    const first = this.lines.firstChild
    for (const [sender, data, time] of state.history) {
      this.history.push([sender, data, time])
      this.say(sender, data, time, first)
    }
  }

  // ---- the chat

  say(sender, data, time, before = null) {
    // "SENDER: TEXT", the sender in bold: both set as text.
    const line = document.createElement("div")
    const name = document.createElement("b")
    name.textContent = sender
    name.style.setProperty("--hue", hue(sender))
    if (sender === this.peerId) line.className = "mine"
    line.append(name, `: ${typeof data === "string" ? data : JSON.stringify(data)}`)
    this.append(line, time, before)
    this.empty.hidden = true
  }

  system(text) {
    const p = document.createElement("p")
    p.className = "sys"
    p.textContent = text
    this.append(p)
  }

  append(el, time = clock.format(new Date()), before = null) {
    el.dataset.time = time
    const stick = this.lines.scrollTop + this.lines.clientHeight >= this.lines.scrollHeight - 4
    this.lines.insertBefore(el, before)
    if (stick) this.lines.scrollTop = this.lines.scrollHeight
  }

  // ---- the peer list

  showPeers(states) {
    const host = this.hostPeerId
    const names = Object.keys(states).sort((a, b) => rank(a, host, this.peerId) - rank(b, host, this.peerId) || a.localeCompare(b))
    this.peers.replaceChildren(...names.map((name) => this.setItem(document.createElement("li"), name, states[name])))
    const count = document.getElementById("count")
    if (count) count.textContent = String(names.filter((n) => states[n] === "connected").length)
    this.tell(states, host)
  }

  // setItem makes li the item "NAME: STATE"; its badges (host, you) are CSS
  // content, so that the item's text stays exactly "NAME: STATE".
  setItem(li, name, state) {
    li.textContent = `${name}: ${state}`
    li.className = state
    li.dataset.name = name
    const badges = [name === this.hostPeerId && "host", name === this.peerId && "you"].filter(Boolean)
    if (badges.length) li.dataset.badge = badges.join(" · ")
    else delete li.dataset.badge
    return li
  }

  // tell writes a system line for each change since the last state map.
  tell(states, host) {
    const before = this.known
    this.known = { ...states }
    const seen = new Set(this.seen)
    for (const [name, state] of Object.entries(states)) if (state === "connected") this.seen.add(name)
    if (!before) {
      this.system(host === this.peerId ? `you joined ${this.roomName()} as its host` : `you joined ${this.roomName()} · ${host} is the host`)
      this.host = host
      return
    }
    // A new host starts its map afresh: those not in it yet are rejoining,
    // not leaving, and come back without a word.
    const newHost = host && host !== this.host
    for (const [name, state] of Object.entries(states)) {
      if (name === this.peerId) continue
      const was = before[name]
      if (was === state) continue
      if (state === "connected" && !seen.has(name)) this.system(`${name} joined`)
      else if (state === "connected" && was !== undefined) this.system(`${name} is back`)
      else if (state === "closed") this.system(`${name} left`)
      else if (state === "disconnected" && was === "connected") this.system(`${name} lost the connection`)
    }
    if (!newHost) {
      for (const name of Object.keys(before)) {
        if (!(name in states) && before[name] !== "closed") this.system(`${name} left`)
      }
      return
    }
    if (this.host && !(this.host in states) && before[this.host] !== "closed") this.system(`${this.host} left`)
    this.system(host === this.peerId ? "you are now the host" : `${host} is now the host`)
    this.host = host
  }

  roomName() {
    return this.p2pFrame?.sessionId ?? "the room"
  }

  // ---- the links (from getStats): "bob: direct · 2 ms" per live link

  async showLinks() {
    const stats = this.p2pFrame ? await this.p2pFrame.linkStats() : []
    const words = (s) => `${s.peerId}: ${s.local ? (s.relayed ? "relayed (TURN)" : "direct") : "connecting"}${s.rttMls ? ` · ${s.rttMls} ms` : ""}`
    this.links.textContent = stats.map(words).join("\n")
  }

  disconnect() {
    clearInterval(this.linkTimer)
    super.disconnect()
  }

  // ---- the form

  send() {
    const text = this.input.value
    if (text.trim() === "") return
    if (this.p2pSendMessage(text)) this.input.value = ""
    this.input.focus()
  }

  showStatus(text, bad = false) {
    this.status.textContent = text
    this.status.classList.toggle("bad", bad)
  }

  enable(on) {
    this.input.disabled = this.button.disabled = !on
  }
}

// rank puts the host first, then you, then everyone else.
function rank(name, host, me) {
  return name === host ? 0 : name === me ? 1 : 2
}

// hue gives each name its own colour, the same on every page.
function hue(name) {
  let h = 0
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360
  return String(h)
}
