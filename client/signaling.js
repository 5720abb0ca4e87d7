// Signaling is the WebSocket transport to the p2pstreams server. The peer
// logic sees only this small interface, so it can be driven by anything that
// has the same shape (a test double, another transport):
//
//   send(msg)   queue a message object; opens the socket when it is closed
//   close()     close on purpose (no onclose callback for it)
//   isOpen      whether a socket is open or opening
//   onmessage   (msg) => void, for every message from the server
//   onclose     ({code, reason, opened}) => void, when the socket ends by
//               itself; opened is false when it never opened (wrong URL,
//               server down, refused upgrade)
//   ask(msg)    (optional) send msg on a socket of its own, and resolve
//               with the server's answer (null on failure); for HostCheck
//
// Invariant: at most one socket at a time; messages queued while it opens are
// sent in order once it is open, and dropped if it fails to open.

export class Signaling {
  /**
   * @param {string} url ws: or wss: URL of the signaling endpoint
   * @param {{WebSocket?: typeof WebSocket}} [options]
   */
  constructor(url, { WebSocket = globalThis.WebSocket } = {}) {
    this.url = url
    this.WebSocket = WebSocket
    this.ws = null
    this.queue = []
    this.onmessage = () => {}
    this.onclose = () => {}
  }

  get isOpen() {
    return this.ws !== null
  }

  send(msg) {
    if (!this.ws) this.open()
    if (this.ws.readyState === 1) this.ws.send(JSON.stringify(msg))
    else this.queue.push(msg)
  }

  close() {
    const ws = this.ws
    this.ws = null
    this.queue = []
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null
      ws.close(1000, "done")
    }
  }

  /**
   * ask sends msg on a WebSocket of its own, apart from the joined one, and
   * resolves with the server's first answer to it (HostAlive, HostLeft or
   * Error), or null when there is none within timeoutMls; then it closes.
   */
  ask(msg, timeoutMls = 10000) {
    return new Promise((resolve) => {
      let ws
      const done = (m) => {
        clearTimeout(timer)
        if (ws) {
          ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null
          try {
            ws.close(1000, "done")
          } catch {}
        }
        resolve(m)
      }
      const timer = setTimeout(() => done(null), timeoutMls)
      try {
        ws = new this.WebSocket(this.url)
      } catch {
        done(null)
        return
      }
      ws.onopen = () => ws.send(JSON.stringify(msg))
      ws.onmessage = (e) => {
        let m
        try {
          m = JSON.parse(e.data)
        } catch {
          return
        }
        if (m && (m.state === "HostAlive" || m.state === "HostLeft" || m.state === "Error")) done(m)
      }
      ws.onclose = () => done(null)
    })
  }

  open() {
    const ws = new this.WebSocket(this.url)
    this.ws = ws
    let opened = false
    ws.onopen = () => {
      opened = true
      const queued = this.queue
      this.queue = []
      for (const m of queued) ws.send(JSON.stringify(m))
    }
    ws.onmessage = (e) => {
      let msg
      try {
        msg = JSON.parse(e.data)
      } catch {
        return // the server sends only JSON; ignore anything else
      }
      if (msg && typeof msg === "object") this.onmessage(msg)
    }
    ws.onclose = (e) => {
      if (this.ws !== ws) return
      this.ws = null
      this.queue = []
      this.onclose({ code: e.code, reason: e.reason, opened })
    }
  }
}
