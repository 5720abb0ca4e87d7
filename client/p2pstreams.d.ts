// Types of the p2pstreams browser client (p2pstreams.js and the modules it re-exports).

/** A connection state, of this peer and in Data.Connection.State. */
export type P2pState = "new" | "negotiating" | "connecting" | "connected" | "disconnected" | "closed" | "failed"

export declare const State: Readonly<{
  New: "new"; Negotiating: "negotiating"; Connecting: "connecting"; Connected: "connected"
  Disconnected: "disconnected"; Closed: "closed"; Failed: "failed"
}>
export declare const Message: Readonly<{ Data: "Data"; ConnectionState: "Data.Connection.State"; Heartbeat: "Heartbeat"; Channel: "Negotiation.Channel" }>
export declare const Signal: Readonly<Record<
  "SessionJoin" | "SessionReady" | "SdpOffer" | "SdpAnswer" | "IceCandidate" | "SessionLeave" | "PeerLeft" | "HostLeft" | "ServerShutdown" | "Error"
  | "HostUnreachable" | "HostProbe" | "HostAlive",
  string
>>
/** The label of the DataChannel the host opens for each client: "p2pstreams". */
export declare const CHANNEL_LABEL: "p2pstreams"

/** The frame config: the keys of the Rails gem p2p_streams_channel, plus manualFailover and maxMessageSize. */
export interface P2pConfig {
  /** ICE servers for RTCPeerConnection; default none. */
  ice_servers?: RTCIceServer[]
  /** Heartbeat over the DataChannel; defaults 1000 and 4000 ms (at least two intervals). */
  heartbeat?: { interval_mls?: number; idle_timeout_mls?: number }
  /** A link not connected this long after its negotiation began fails with code "ice_failed"; default 15000 ms. */
  connect_timeout_mls?: number
  /** Keep a client's signaling WebSocket open once connected; default false. */
  keepCableConnection?: boolean
  /** The Rails gem's mode: when the host goes, stay down until reload; default false (rejoin and elect a new host). */
  manualFailover?: boolean
  /** @deprecated the old name: autoFailover: false is manualFailover: true. */
  autoFailover?: boolean
  /** Largest Data payload in bytes (JSON text or binary); default 16 MiB. A bigger send fails with message_too_large. */
  maxMessageSize?: number
  /** "relay": connect through TURN only (hides the peers' addresses); default "all". */
  iceTransportPolicy?: RTCIceTransportPolicy
  /** How long a link whose path broke may take to heal over its DataChannel (same connection, no server) before it counts as lost; default 20000 ms. */
  heal_timeout_mls?: number
  /** Per-viewer cap, in bits per second, on each sender of a shared stream (RTCRtpSender maxBitrate); default 0: none; at most 100000000. A share's own options win. */
  maxBitrate?: number
  /** Per-viewer downscale of each shared video (scaleResolutionDownBy): 2 sends half the width and height; default 1, in [1, 16]. */
  scaleResolutionDownBy?: number
  /** Whether clients may share streams; default true. false: only the host shares (a client's share fails with share_forbidden). */
  clientsMayShare?: boolean
  [key: string]: unknown
}

/** A share's sender caps, per viewer; each defaults to the frame config's. Out of bounds: the share fails with bad_stream_options. */
export interface P2pShareOptions {
  /** Bits per second, 0 (no cap) to 100000000. */
  maxBitrate?: number
  /** Video only: 1 (full size) to 16. */
  scaleResolutionDownBy?: number
}
export declare const DEFAULT_CONFIG: Readonly<Required<Pick<P2pConfig, "ice_servers" | "keepCableConnection" | "manualFailover" | "maxMessageSize" | "iceTransportPolicy" | "connect_timeout_mls" | "heal_timeout_mls" | "maxBitrate" | "scaleResolutionDownBy" | "clientsMayShare">> & { heartbeat: { interval_mls: number; idle_timeout_mls: number } }>
export declare function normalizeConfig(c?: P2pConfig): Required<Omit<P2pConfig, "autoFailover">>
/** Error codes by name (generated from Go's package protocol). */
export declare const Code: Readonly<Record<string, string>>
/** The class of each error code: what a peer does after it. */
export declare const CODE_CLASS: Readonly<Record<string, "fatal" | "retry" | "info">>
/** The claims of a token, read without checking its signature. */
export declare function readToken(token: string): { sessionId: string; peerId: string; expires: number; config: P2pConfig }

/** A message a peer receives over the DataChannel; `channel`: the named channel it came on (absent on the default channel). */
export type P2pMessage =
  | { type: "Data"; senderId: string; data: unknown; channel?: string }
  | { type: "Data.Connection.State"; data: Record<string, P2pState> }

/**
 * A named channel's delivery options (RTCDataChannelInit's): ordered
 * (default true), and at most one of maxRetransmits and maxPacketLifeTime
 * (ms), 0-65535, for a lossy channel. A bad option, a reserved or bad name
 * (empty, over 64 bytes, other than ASCII letters, digits, "-", "_", ".",
 * or "p2pstreams"), or a name open already with other options, is refused
 * with code "bad_channel".
 */
export interface P2pChannelOptions {
  ordered?: boolean
  maxRetransmits?: number
  maxPacketLifeTime?: number
}
/** Where send goes: a named channel (openChannel); default the default channel. */
export interface P2pSendOptions { channel?: string }

/** An error from the server (PROTOCOL.md codes) or from the client ("bad_channel", "unknown_channel": a message on a channel this peer never opened, not delivered; "webrtc", "bad_frame", "signaling_unreachable", "ice_failed", "already_open", "messages_lost": sent while a link healed, and lost with it; for streams "share_forbidden", "bad_stream_options", "media_denied", "media_unavailable"); the one shape p2pError gets. */
export interface P2pError { code: string; message: string }

/** Detail of a state change; `reconnecting` tells whether a disconnected client rejoins by itself. */
export interface P2pStateDetail {
  /** Why: with "failed" and "disconnected", a code ("ice_failed": the link did not connect within connect_timeout_mls; "already_open": another tab has this peer). */
  reason?: string
  reconnecting?: boolean
}

/** The callbacks a <p2p-frame> calls on its listeners. */
export interface P2pListener {
  p2pNegotiating?(detail: P2pStateDetail): void
  p2pConnecting?(detail: P2pStateDetail): void
  p2pConnected?(detail: P2pStateDetail): void
  p2pDisconnected?(detail: P2pStateDetail): void
  p2pClosed?(detail: P2pStateDetail): void
  p2pError?(error: P2pError): void
  p2pReceivedMessage?(message: P2pMessage): void
  /** A peer shares stream (from.peerId: who; a client's comes forwarded by the host). */
  p2pReceivedStream?(stream: MediaStream, from: P2pStreamFrom): void
  /** It stopped sharing stream, or its link ended. */
  p2pStreamEnded?(stream: MediaStream, from: P2pStreamFrom): void
  /** Another peer hosts the session now. */
  p2pHostChanged?(change: P2pHostChange): void
  /** Opt-in state hand-off: the app's state (any JSON value), asked on the host. */
  p2pHostState?(): unknown
  /** Replace the app's state with the host's (on a newcomer, and on a new host). */
  p2pRestoreState?(state: unknown): void
}

/** Who shares a received stream. */
export interface P2pStreamFrom { peerId: string }

/** Detail of p2pHostChanged and the p2p:hostchanged event. */
export interface P2pHostChange { previous: string; current: string }

export interface P2pFrameEventMap extends HTMLElementEventMap {
  "p2p:state": CustomEvent<P2pStateDetail & { state: P2pState }>
  "p2p:hostchanged": CustomEvent<P2pHostChange>
  "p2p:restorestate": CustomEvent<unknown>
  "p2p:negotiating": CustomEvent<P2pStateDetail>
  "p2p:connecting": CustomEvent<P2pStateDetail>
  "p2p:connected": CustomEvent<P2pStateDetail>
  "p2p:disconnected": CustomEvent<P2pStateDetail>
  "p2p:closed": CustomEvent<P2pStateDetail>
  "p2p:failed": CustomEvent<P2pStateDetail>
  "p2p:message": CustomEvent<P2pMessage>
  "p2p:error": CustomEvent<P2pError>
  "p2p:stream": CustomEvent<P2pStreamFrom & { stream: MediaStream }>
  "p2p:streamended": CustomEvent<P2pStreamFrom & { stream: MediaStream }>
}

/** One live link's selected ICE candidate pair: candidate types "host", "srflx", "prflx", "relay". */
export interface P2pLinkStats {
  peerId: string
  local: string
  remote: string
  /** Either end is a TURN relay. */
  relayed: boolean
  /** The last round-trip time in ms; 0 when unknown. */
  rttMls: number
}

/** <p2p-frame token="…" config="{…}" url="ws://…">. */
export declare class P2pFrameElement extends HTMLElement {
  /**
   * Sends data to every peer, this one included (on a named channel with {channel}); false when
   * it was not sent: not connected, refused (p2pError says why: bad_channel, message_too_large
   * over maxMessageSize), or its send queue is full (slow_reader; the host's own: even its
   * fastest client cannot take it now). Send again later.
   */
  send(data: unknown, options?: P2pSendOptions): boolean
  /** Opens a named channel on every link of the session, those made later too; its messages arrive with `channel` set. False (p2pError "bad_channel") when refused. */
  openChannel(name: string, options?: P2pChannelOptions): boolean
  /** Shares a MediaStream with every other peer, those joining later too (a client's goes through the host, which forwards it); false after p2pError (share_forbidden, bad_stream_options). */
  shareStream(stream: MediaStream, options?: P2pShareOptions): boolean
  /** Captures the camera (and microphone; default constraints { video: true, audio: true }) and shares it: the stream, or null after p2pError (media_denied, media_unavailable, share_forbidden, bad_stream_options). */
  shareCamera(constraints?: MediaStreamConstraints, options?: P2pShareOptions): Promise<MediaStream | null>
  /** Captures a screen, window or tab (getDisplayMedia) and shares it, as shareCamera. */
  shareScreen(constraints?: DisplayMediaStreamOptions, options?: P2pShareOptions): Promise<MediaStream | null>
  /** Stops sharing it: every peer gets p2pStreamEnded. */
  stopStream(stream: MediaStream): boolean
  readonly peerId: string | undefined
  readonly sessionId: string | undefined
  readonly hostPeerId: string | null | undefined
  readonly iamHost: boolean
  readonly state: P2pState
  readonly config: Required<P2pConfig> | undefined
  /** Per live link: direct or relayed (TURN), and its RTT (from getStats). */
  linkStats(): Promise<P2pLinkStats[]>
  addP2pListener(listener: P2pListener): void
  removeP2pListener(listener: P2pListener): void
  /** The Rails gem's name for addP2pListener. */
  setP2pListener(listener: P2pListener): void
  addEventListener<K extends keyof P2pFrameEventMap>(type: K, listener: (this: P2pFrameElement, ev: P2pFrameEventMap[K]) => any, options?: boolean | AddEventListenerOptions): void
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void
}
/** The signaling endpoint of frames without a url attribute, as ws(s): "/p2p/" on the page's origin unless setDefaultURL changed it. */
export declare function defaultURL(): string
/** Sets the endpoint of frames without a url attribute (absolute, or relative to the page), before they connect. */
export declare function setDefaultURL(url: string): void

/** The controller API, on any base class: every callback (stubbed), p2pHostState only where the app defines it. */
export interface P2pControllerAPI extends Required<Omit<P2pListener, "p2pHostState">> {
  p2pHostState?(): unknown
  p2pFrame: P2pFrameElement | null
  readonly peerId: string | undefined
  readonly hostPeerId: string | null | undefined
  readonly iamHost: boolean
  p2pSendMessage(data: unknown, options?: P2pSendOptions): boolean
  p2pOpenChannel(name: string, options?: P2pChannelOptions): boolean
  p2pShareStream(stream: MediaStream, options?: P2pShareOptions): boolean
  p2pShareCamera(constraints?: MediaStreamConstraints, options?: P2pShareOptions): Promise<MediaStream | null>
  p2pShareScreen(constraints?: DisplayMediaStreamOptions, options?: P2pShareOptions): Promise<MediaStream | null>
  p2pStopStream(stream: MediaStream): boolean
  p2pSetup(element?: Element): void
  p2pTeardown(): void
}
export declare function P2pMixin<B extends abstract new (...args: any[]) => object>(Base: B): B & (abstract new (...args: any[]) => P2pControllerAPI)

/** The framework-free controller: new MyController(element) inside or around a <p2p-frame>. */
export declare class P2pController implements P2pControllerAPI {
  constructor(element: Element)
  element: Element
  p2pFrame: P2pFrameElement | null
  readonly peerId: string | undefined
  readonly hostPeerId: string | null | undefined
  readonly iamHost: boolean
  p2pSendMessage(data: unknown, options?: P2pSendOptions): boolean
  p2pOpenChannel(name: string, options?: P2pChannelOptions): boolean
  p2pShareStream(stream: MediaStream, options?: P2pShareOptions): boolean
  p2pShareCamera(constraints?: MediaStreamConstraints, options?: P2pShareOptions): Promise<MediaStream | null>
  p2pShareScreen(constraints?: DisplayMediaStreamOptions, options?: P2pShareOptions): Promise<MediaStream | null>
  p2pStopStream(stream: MediaStream): boolean
  p2pSetup(element?: Element): void
  p2pTeardown(): void
  disconnect(): void
  p2pNegotiating(detail: P2pStateDetail): void
  p2pConnecting(detail: P2pStateDetail): void
  p2pConnected(detail: P2pStateDetail): void
  p2pDisconnected(detail: P2pStateDetail): void
  p2pClosed(detail: P2pStateDetail): void
  p2pError(error: P2pError): void
  p2pReceivedMessage(message: P2pMessage): void
  p2pReceivedStream(stream: MediaStream, from: P2pStreamFrom): void
  p2pStreamEnded(stream: MediaStream, from: P2pStreamFrom): void
  p2pHostChanged(change: P2pHostChange): void
  p2pHostState?(): unknown
  p2pRestoreState(state: unknown): void
}

/** The signaling transport the peer logic talks to. */
export interface SignalingTransport {
  send(msg: object): void
  close(): void
  readonly isOpen: boolean
  onmessage: (msg: any) => void
  onclose: (info: { code: number; reason: string }) => void
  /** Optional: send msg on a socket of its own and resolve with the server's answer, or null (HostCheck). */
  ask?(msg: object): Promise<any | null>
}
export declare class Signaling implements SignalingTransport {
  constructor(url: string, options?: { WebSocket?: typeof WebSocket })
  send(msg: object): void
  close(): void
  ask(msg: object, timeoutMls?: number): Promise<any | null>
  readonly isOpen: boolean
  onmessage: (msg: any) => void
  onclose: (info: { code: number; reason: string }) => void
}

/** One member of a session (the logic behind <p2p-frame>). */
export declare class Peer {
  constructor(o: {
    token: string
    config?: P2pConfig
    signaling: SignalingTransport
    events: { state(state: P2pState, detail: P2pStateDetail): void; message(msg: P2pMessage): void; error(err: P2pError): void; stream?(stream: MediaStream, from: P2pStreamFrom): void; streamEnded?(stream: MediaStream, from: P2pStreamFrom): void }
    RTCPeerConnection?: typeof RTCPeerConnection
    /** Host: how long a client that went may take to come back before it is forgotten; default 30000. */
    forgetAfterMls?: number
  })
  readonly peerId: string
  readonly sessionId: string
  readonly hostPeerId: string | null
  readonly iamHost: boolean
  readonly state: P2pState
  readonly config: Required<P2pConfig>
  /** Per live link: direct or relayed (TURN), and its RTT (from getStats). */
  linkStats(): Promise<P2pLinkStats[]>
  start(): void
  /** leave: false when the page is only closing or reloading (the default true also frees the place). */
  stop(options?: { leave?: boolean }): void
  send(data: unknown, options?: P2pSendOptions): boolean
  openChannel(name: string, options?: P2pChannelOptions): boolean
  /** The named channels this peer knows (its app's, its host's, its clients'), by name. */
  readonly channels: ReadonlyMap<string, P2pChannelOptions & { name: string }>
  shareStream(stream: MediaStream, options?: P2pShareOptions): boolean
  /** Whether this peer may share with options; false after events.error (share_forbidden, bad_stream_options). */
  canShare(options?: P2pShareOptions): boolean
  stopStream(stream: MediaStream): boolean
}

/** Captures the camera (getUserMedia) or a screen (getDisplayMedia); a failure as {error} with code media_denied or media_unavailable. */
export declare function capture(kind: "camera" | "screen", constraints?: MediaStreamConstraints | DisplayMediaStreamOptions): Promise<{ stream: MediaStream; error?: undefined } | { stream?: undefined; error: P2pError }>
/** Whether this browser can capture kind (getDisplayMedia exists for "screen"). */
export declare function isCaptureSupported(kind: "camera" | "screen"): boolean

/** One RTCPeerConnection between the host and a client. */
export declare class Connection {
  readonly remoteId: string
  readonly state: P2pState
  readonly open: boolean
  send(msg: object): boolean
  close(state?: P2pState): void
}

declare global {
  interface HTMLElementTagNameMap { "p2p-frame": P2pFrameElement }
}
