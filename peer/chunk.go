package peer

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Peer messages of any size and kind over the DataChannel (PROTOCOL.md,
// "Chunks"), the same as client/wire.js:
//
//   - a JSON message up to protocol.ChunkSize bytes is one text message;
//   - anything else goes as binary messages, each one flag byte then up to
//     ChunkSize-1 bytes: flagMore says more of the same message follows,
//     flagBinary says the whole is a binary message, that is a 4-byte
//     big-endian header length, the header (JSON: type, senderId) and the
//     payload bytes; without flagBinary the whole is JSON text; flagAbort
//     (alone) drops what came of the message so far (its sender gave up).
//
// A channel carries one message's chunks back to back (its sender holds a
// lock while it sends them), so no ids are needed; heartbeats, always
// small text, may go between them.
const (
	flagMore   = 1
	flagBinary = 2
	flagAbort  = 4 // drop the part of the message received so far
	// chunkSlack bounds what a header adds to a payload.
	chunkSlack = 64 << 10
)

// piece is one DataChannel message to send.
type piece struct {
	text string // a whole JSON message; or
	bin  []byte // a chunk
}

func (p piece) size() int { return len(p.text) + len(p.bin) }

// chunkText splits a JSON message into pieces.
func chunkText(s string) []piece {
	if len(s) <= protocol.ChunkSize {
		return []piece{{text: s}}
	}
	return chunk([]byte(s), 0)
}

// chunkBinary frames a binary message (header JSON, payload) into pieces.
func chunkBinary(header []byte, payload []byte) []piece {
	whole := make([]byte, 4, 4+len(header)+len(payload))
	binary.BigEndian.PutUint32(whole, uint32(len(header)))
	whole = append(append(whole, header...), payload...)
	return chunk(whole, flagBinary)
}

func chunk(whole []byte, flags byte) []piece {
	const n = protocol.ChunkSize - 1
	out := make([]piece, 0, len(whole)/n+1)
	for len(whole) > 0 || len(out) == 0 {
		k := min(n, len(whole))
		b := make([]byte, 1+k)
		b[0] = flags
		if k < len(whole) {
			b[0] |= flagMore
		}
		copy(b[1:], whole[:k])
		whole = whole[k:]
		out = append(out, piece{bin: b})
	}
	return out
}

// reassembler puts a peer's chunks back together. It belongs to the
// goroutine that reads one DataChannel.
type reassembler struct {
	buf  []byte
	skip bool // the message passed the bound: drop the rest of it
}

var errChunkTooLarge = &protocol.CodeError{Code: protocol.CodeTooLarge, Text: "a peer message over the maximum size"}

// add takes one binary DataChannel message. It returns the whole message
// when b was its last chunk (done), binary says which kind it is. A message
// whose chunks pass limit bytes is dropped with errChunkTooLarge (once,
// with its last chunk).
func (r *reassembler) add(b []byte, limit int) (whole []byte, binary, done bool, err error) {
	if len(b) == 0 {
		return nil, false, false, errors.New("peer: empty chunk")
	}
	flags := b[0]
	if flags&flagAbort != 0 {
		r.buf, r.skip = nil, false
		return nil, false, false, nil
	}
	if !r.skip {
		r.buf = append(r.buf, b[1:]...)
		if len(r.buf) > limit {
			r.skip, r.buf = true, nil
		}
	}
	if flags&flagMore != 0 {
		return nil, false, false, nil
	}
	whole, skipped := r.buf, r.skip
	r.buf, r.skip = nil, false
	if skipped {
		return nil, false, false, errChunkTooLarge
	}
	return whole, flags&flagBinary != 0, true, nil
}

// decodeBinary splits a reassembled binary message into its wire header
// and payload.
func decodeBinary(whole []byte) (wire, []byte, error) {
	if len(whole) < 4 {
		return wire{}, nil, errors.New("peer: short binary message")
	}
	n := binary.BigEndian.Uint32(whole)
	if uint64(n) > uint64(len(whole)-4) {
		return wire{}, nil, fmt.Errorf("peer: binary header of %d bytes in a message of %d", n, len(whole))
	}
	var w wire
	if err := json.Unmarshal(whole[4:4+n], &w); err != nil {
		return wire{}, nil, fmt.Errorf("peer: binary header: %w", err)
	}
	w.Data = nil
	return w, whole[4+n:], nil
}

// encodeBinaryHeader is the header of a binary Data message; from is empty
// for a client's own message (the host stamps the sender).
func encodeBinaryHeader(from protocol.PeerID) []byte {
	if from == "" {
		return []byte(`{"type":"Data"}`)
	}
	return append(append([]byte(`{"type":"Data","senderId":`), protocol.Quote(string(from))...), '}')
}
