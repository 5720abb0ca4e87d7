// The chat_controller.js of the Rails gem p2p_streams_channel (its README), unchanged but
// for what the gem leaves to the app: the targets it uses and the four small
// view helpers at the end. Same import, same callbacks, same calls.
import { P2pController } from "p2p"
export default class extends P2pController {
    static targets = ["chatBox", "messageBox", "status", "peers"]
    //
    // p2p callbacks
    //
    p2pNegotiating() {
        // your peer start to negotiate with the host through ActionCable
        console.log("NEGOTIATING ...")
        this.showConnecting()
    }

    p2pConnecting() {
        // your peer is connecting directly with the host peer
        console.log("CONNECTING ...")
    }

    p2pConnected() {
        // your peer's connected to the host peer
        // from now you could start send message to the other through the host peer
        console.log("CONNECTED ...")
        this.hideConnecting()
        this.showChatBox()
    }

    p2pDisconnected() {
        // your peer's disconnected from the host peer
        this.showConnecting()
    }

    p2pClosed() {}

    p2pError() {}

    // receiving message from the other through the host peer
    p2pReceivedMessage(message) {
        switch(message["type"]) {
            case "Data":
                // message["data"]: the text message
                const chatLine = document.createElement("div")
                chatLine.innerText = `${message["senderId"]}: ${message["data"]}`
                this.chatBoxTarget.append(chatLine)
                break
            case "Data.Connection.State":
                // message["data"]: the current connection state of other peers
                for (let [peer, state] of Object.entries(message["data"])) {
                    this.updatePeerState(peer, state)
                }
                break
            default:
                break
        }
    }

    //
    // send message to the others through the host peer:
    // for example:
    // send-button in message box will trigger this action
    send() {
        this.p2pSendMessage(this.messageBoxTarget.value)
        this.messageBoxTarget.value = ""
    }

    // others:
    // this.iamHost: your peer is the host or not
    // this.peerId: your peer id
    // this.hostPeerId: the host peer id
    //

    // The view helpers the gem's example calls but does not show.
    showConnecting() { this.statusTarget.textContent = "connecting..." }
    hideConnecting() { this.statusTarget.textContent = `${this.peerId} connected` + (this.iamHost ? " as host" : ` to ${this.hostPeerId}`) }
    showChatBox() { this.messageBoxTarget.disabled = false }
    updatePeerState(peer, state) {
        let line = [...this.peersTarget.children].find((li) => li.dataset.peer === peer)
        if (!line) {
            line = document.createElement("li")
            line.dataset.peer = peer
            this.peersTarget.append(line)
        }
        line.textContent = `${peer}: ${state}`
    }
}
