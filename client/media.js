// Capturing the camera, microphone or screen for a share, with failures
// turned into the protocol's codes (media_denied, media_unavailable) so that
// an app hears of them through p2pError like any other error.

import { Code } from "./protocol.js"

/**
 * capture asks the browser for a camera (kind "camera": getUserMedia) or a
 * screen (kind "screen": getDisplayMedia) with constraints. It resolves to
 * {stream}, or to {error: {code, message}} when the browser refuses or has
 * nothing to capture.
 */
export async function capture(kind, constraints) {
  const md = globalThis.navigator?.mediaDevices
  const get = kind === "screen" ? md?.getDisplayMedia : md?.getUserMedia
  if (!get) return { error: { code: Code.MediaUnavailable, message: `this browser cannot capture the ${kind} (no mediaDevices.${kind === "screen" ? "getDisplayMedia" : "getUserMedia"}; is the page served over https?)` } }
  try {
    return { stream: await get.call(md, constraints) }
  } catch (e) {
    // NotAllowedError: the user or the browser's policy said no. Anything
    // else (NotFoundError, NotReadableError, OverconstrainedError, ...): no
    // device, or it cannot be read.
    const code = e?.name === "NotAllowedError" || e?.name === "SecurityError" ? Code.MediaDenied : Code.MediaUnavailable
    return { error: { code, message: `the ${kind}: ${e?.name ?? "Error"}${e?.message ? ": " + e.message : ""}` } }
  }
}

/** isCaptureSupported: whether this browser can capture kind ("camera" or "screen"). */
export function isCaptureSupported(kind) {
  const md = globalThis.navigator?.mediaDevices
  return typeof (kind === "screen" ? md?.getDisplayMedia : md?.getUserMedia) === "function"
}
