// Package testvideo makes VP8 video without an encoder: valid keyframes of
// a given size, so that Go hosts in examples, tests and benchmarks can send
// real video that browsers and pion's readers decode.
//
// Every frame is a keyframe whose macroblocks are all predicted (DC
// prediction, no residual): a flat grey picture. Frames can be padded to
// a set byte size, to model a bitrate; decoders ignore bytes after the
// last partition's data.
package testvideo

import (
	"errors"
	"time"
)

// MaxSide is the largest width or height a VP8 frame header can carry.
const MaxSide = 1<<14 - 1

// ErrSize: a width or height out of 1..MaxSide.
var ErrSize = errors.New("testvideo: width and height must be 1..16383")

// Keyframe returns one VP8 keyframe of width × height pixels, padded with
// zero bytes to at least size bytes (size ≤ the natural size: no padding).
func Keyframe(width, height, size int) ([]byte, error) {
	if width < 1 || width > MaxSide || height < 1 || height > MaxSide {
		return nil, ErrSize
	}
	first := firstPartition((width+15)/16, (height+15)/16)
	var tokens boolEncoder // all macroblocks skip: no tokens
	second := tokens.flush()

	n := len(first)
	frame := make([]byte, 0, max(size, 10+n+len(second)))
	// Frame tag (RFC 6386 9.1): keyframe (bit 0 = 0), version 0, shown.
	tag := uint32(n)<<5 | 1<<4
	frame = append(frame, byte(tag), byte(tag>>8), byte(tag>>16))
	frame = append(frame, 0x9d, 0x01, 0x2a, // start code
		byte(width), byte(width>>8), byte(height), byte(height>>8)) // no scaling
	frame = append(frame, first...)
	frame = append(frame, second...)
	for len(frame) < size {
		frame = append(frame, 0)
	}
	return frame, nil
}

// firstPartition is the frame header and every macroblock's modes.
func firstPartition(mbw, mbh int) []byte {
	var e boolEncoder
	e.literal(0, 1)  // color space
	e.literal(0, 1)  // clamping type
	e.literal(0, 1)  // no segmentation
	e.literal(0, 1)  // normal loop filter
	e.literal(0, 6)  // loop filter level 0: off
	e.literal(0, 3)  // sharpness
	e.literal(0, 1)  // no loop filter deltas
	e.literal(0, 2)  // one token partition
	e.literal(40, 7) // y ac quantizer index
	e.literal(0, 5)  // no quantizer deltas
	e.literal(0, 1)  // refresh entropy probs: no
	for i := range tokenProbUpdateProb {
		for j := range tokenProbUpdateProb[i] {
			for k := range tokenProbUpdateProb[i][j] {
				for _, p := range tokenProbUpdateProb[i][j][k] {
					e.bool(p, false) // keep the default token probabilities
				}
			}
		}
	}
	const skipProb = 1
	e.literal(1, 1) // mb_no_coeff_skip
	e.literal(skipProb, 8)
	for range mbw * mbh {
		e.bool(skipProb, true) // no residual
		e.bool(145, true)      // a 16×16 luma mode,
		e.bool(156, false)     // DC_PRED (tree: 1, 0, 0)
		e.bool(163, false)
		e.bool(142, false) // chroma DC_PRED
	}
	return e.flush()
}

// Frames calls send with a frame every 1/fps for n frames (n ≤ 0:
// until stop is closed); see Keyframe for width, height and size. It
// returns the first error of send, or nil when done or stopped.
func Frames(stop <-chan struct{}, width, height, size, fps, n int, send func(frame []byte, d time.Duration) error) error {
	frame, err := Keyframe(width, height, size)
	if err != nil {
		return err
	}
	d := time.Second / time.Duration(max(fps, 1))
	tick := time.NewTicker(d)
	defer tick.Stop()
	for i := 0; n <= 0 || i < n; i++ {
		if err := send(frame, d); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
	}
	return nil
}
