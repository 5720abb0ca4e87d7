// The Stimulus adapter: controllers extend Stimulus's Controller, which the
// app provides ("@hotwired/stimulus" in its import map or bundle). The Rails
// gem p2p_streams_channel's chat_controller.js works with it as is, given
// the targets it declares and this import (an import map maps
// "p2pstreams/stimulus" to <mount>/stimulus.js; bundlers find it in the npm
// package):
//
//   import { P2pController } from "p2pstreams/stimulus"
//   export default class extends P2pController { p2pReceivedMessage(m) { … } }
//
// A controller that defines connect() or disconnect() calls super's.

import { Controller } from "@hotwired/stimulus"
import { P2pMixin } from "./controller.js"

export class P2pController extends P2pMixin(Controller) {
  connect() {
    this.p2pSetup()
  }

  disconnect() {
    this.p2pTeardown()
  }
}

export default P2pController
