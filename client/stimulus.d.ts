// Types of the Stimulus adapter (stimulus.js).
import { Controller } from "@hotwired/stimulus"
import type { P2pChannelOptions, P2pFrameElement, P2pError, P2pHostChange, P2pMessage, P2pSendOptions, P2pShareOptions, P2pStateDetail, P2pStreamFrom } from "./p2pstreams.js"

/** A Stimulus controller with the P2pController API; its element is inside or around a <p2p-frame>. */
export declare class P2pController<E extends Element = Element> extends Controller<E> {
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
export default P2pController
