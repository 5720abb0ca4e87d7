// p2pstreams browser client. Importing it defines <p2p-frame>.
//
//   <script type="module" src="/p2p/p2pstreams.js"></script>
//   <p2p-frame token="…" config="{…}"></p2p-frame>
//
// Stimulus users import "./stimulus.js" (P2pController on Stimulus) instead.

export { P2pFrameElement, defaultURL, setDefaultURL } from "./frame.js"
export { P2pController, P2pMixin } from "./controller.js"
export { Peer } from "./peer.js"
export { Connection } from "./connection.js"
export { Signaling } from "./signaling.js"
export { capture, isCaptureSupported } from "./media.js"
export { State, Message, Signal, Code, CODE_CLASS, CHANNEL_LABEL, DEFAULT_CONFIG, normalizeConfig, readToken } from "./protocol.js"
