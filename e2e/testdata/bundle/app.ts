// A chat on the p2pstreams npm package, bundled by esbuild (ESM and IIFE)
// and type-checked by tsc --strict: the package's exports and types resolve
// without any paths mapping, and the bundle finds the signaling endpoint.
import { P2pController, type P2pError, type P2pMessage, type P2pStateDetail } from "p2pstreams"

class Chat extends P2pController {
  private lines = this.element.querySelector("#lines") as HTMLElement
  private status = this.element.querySelector("#status") as HTMLElement

  p2pConnected(_detail: P2pStateDetail): void {
    this.status.textContent = `${this.peerId} connected${this.iamHost ? " as host" : ""}`
  }

  p2pError(error: P2pError): void {
    this.status.textContent = `error ${error.code}`
  }

  p2pReceivedMessage(message: P2pMessage): void {
    if (message.type !== "Data") return
    const line = document.createElement("div")
    line.textContent = `${message.senderId}: ${String(message.data)}`
    this.lines.append(line)
  }
}

const chat = new Chat(document.getElementById("chat")!)
declare global {
  interface Window {
    say(text: string): boolean
    shareCamera(): Promise<MediaStream | null>
    cursor(x: number, y: number): boolean
  }
}
window.say = (text: string) => chat.p2pSendMessage(text)
// A camera capped at 300 kbit/s and half size for each viewer (the types of the share options).
window.shareCamera = () => chat.p2pShareCamera({ video: true }, { maxBitrate: 300_000, scaleResolutionDownBy: 2 })
// A lossy named channel: the types of its options and of send's.
chat.p2pOpenChannel("cursor", { ordered: false, maxRetransmits: 0 })
window.cursor = (x: number, y: number) => chat.p2pSendMessage({ x, y }, { channel: "cursor" })
