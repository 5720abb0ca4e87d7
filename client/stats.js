// linkStats reads a link's selected ICE candidate pair from getStats():
// whether it is relayed (TURN) or direct, and its round-trip time. The Go
// peer's Stats() has the same fields.

/**
 * @param {string} peerId the other end
 * @param {RTCPeerConnection} pc
 * @returns {Promise<{peerId: string, local: string, remote: string, relayed: boolean, rttMls: number}>}
 */
export async function linkStats(peerId, pc) {
  const out = { peerId, local: "", remote: "", relayed: false, rttMls: 0 }
  let report
  try {
    report = await pc.getStats()
  } catch {
    return out // closed meanwhile
  }
  let pair
  for (const s of report.values()) {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId)
  }
  if (!pair) {
    for (const s of report.values()) {
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s
    }
  }
  if (!pair) return out
  out.local = report.get(pair.localCandidateId)?.candidateType || ""
  out.remote = report.get(pair.remoteCandidateId)?.candidateType || ""
  out.relayed = out.local === "relay" || out.remote === "relay"
  if (Number.isFinite(pair.currentRoundTripTime)) out.rttMls = Math.round(pair.currentRoundTripTime * 1000)
  return out
}
