// The "./stimulus" export resolves (Stimulus itself stays external).
import { P2pController } from "p2pstreams/stimulus"
export { P2pController }
