// P2pController: the controller API of the Rails gem p2p_streams_channel, without a framework.
//
//   class Chat extends P2pController {
//     p2pConnected() { … }
//     p2pReceivedMessage(message) { … }
//   }
//   new Chat(document.querySelector("#chat")) // inside (or around) a <p2p-frame>
//
// P2pMixin adds the same API to any base class; the Stimulus adapter
// (stimulus.js) is P2pMixin(Controller) with connect/disconnect wired.

import "./frame.js"

/** P2pMixin returns Base extended with the P2pController API. */
export const P2pMixin = (Base) =>
  class extends Base {
    /** p2pSetup finds the <p2p-frame> around (or inside) element and listens to it. */
    p2pSetup(element = this.element) {
      const frame = element.closest("p2p-frame") ?? element.querySelector("p2p-frame")
      if (!frame) throw new Error("p2pstreams: no <p2p-frame> around or inside the controller's element")
      this.p2pTeardown()
      this.p2pFrame = frame
      frame.addP2pListener(this)
    }

    /** p2pTeardown stops listening to the frame. */
    p2pTeardown() {
      this.p2pFrame?.removeP2pListener(this)
      this.p2pFrame = null
    }

    /** this peer's id */
    get peerId() {
      return this.p2pFrame?.peerId
    }
    /** the host's peer id, once known */
    get hostPeerId() {
      return this.p2pFrame?.hostPeerId
    }
    /** whether this peer is the host */
    get iamHost() {
      return !!this.p2pFrame?.iamHost
    }

    /** p2pSendMessage sends data to every peer, this one included (through the host); on a named channel with {channel}. */
    p2pSendMessage(data, opts) {
      return this.p2pFrame ? this.p2pFrame.send(data, opts) : false
    }

    /** p2pOpenChannel opens a named channel ({ordered, maxRetransmits, maxPacketLifeTime}) on every link. */
    p2pOpenChannel(name, opts) {
      return this.p2pFrame ? this.p2pFrame.openChannel(name, opts) : false
    }

    /** p2pShareStream shares a MediaStream (camera, screen, canvas) with every other peer. */
    p2pShareStream(stream, options) {
      return this.p2pFrame ? this.p2pFrame.shareStream(stream, options) : false
    }
    /** p2pShareCamera captures the camera (and microphone) and shares it: the stream, or null after p2pError. */
    p2pShareCamera(constraints, options) {
      return this.p2pFrame ? this.p2pFrame.shareCamera(constraints, options) : Promise.resolve(null)
    }
    /** p2pShareScreen captures a screen, window or tab and shares it: the stream, or null after p2pError. */
    p2pShareScreen(constraints, options) {
      return this.p2pFrame ? this.p2pFrame.shareScreen(constraints, options) : Promise.resolve(null)
    }
    /** p2pStopStream stops sharing it: every peer gets p2pStreamEnded. */
    p2pStopStream(stream) {
      return this.p2pFrame ? this.p2pFrame.stopStream(stream) : false
    }

    // The callbacks: override the ones you need.
    p2pNegotiating() {}
    p2pConnecting() {}
    p2pConnected() {}
    p2pDisconnected() {}
    p2pClosed() {}
    p2pError() {}
    p2pReceivedMessage() {}
    /** p2pReceivedStream(stream, {peerId}): a peer shares stream. */
    p2pReceivedStream() {}
    /** p2pStreamEnded(stream, {peerId}): it stopped sharing it, or its link ended. */
    p2pStreamEnded() {}
    /** p2pHostChanged({previous, current}): another peer hosts the session now. */
    p2pHostChanged() {}
    // State hand-off (opt-in): define p2pHostState() to return the app's
    // state (any JSON value) when this peer hosts; p2pRestoreState(state)
    // is then called with the host's state on a newcomer and on a new host.
    p2pRestoreState() {}
  }

/** P2pController for apps without a framework: construct it with its element. */
export class P2pController extends P2pMixin(Object) {
  constructor(element) {
    super()
    this.element = element
    this.p2pSetup()
  }

  /** disconnect stops listening (the frame itself leaves when removed from the page). */
  disconnect() {
    this.p2pTeardown()
  }
}
