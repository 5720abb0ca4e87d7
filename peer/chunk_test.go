package peer

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// roundTrip feeds pieces to a reassembler as the DataChannel would.
func roundTrip(t *testing.T, pieces []piece, limit int) (wire, error) {
	t.Helper()
	var r reassembler
	for i, pc := range pieces {
		if pc.bin == nil {
			if len(pieces) != 1 {
				t.Fatal("a text piece in a chunked message")
			}
			return decodeWire([]byte(pc.text))
		}
		if len(pc.bin) > protocol.ChunkSize {
			t.Fatalf("chunk of %d bytes", len(pc.bin))
		}
		whole, isBin, done, err := r.add(pc.bin, limit)
		if err != nil {
			return wire{}, err
		}
		if done != (i == len(pieces)-1) {
			t.Fatalf("chunk %d of %d: done %v", i, len(pieces), done)
		}
		if done && isBin {
			w, payload, err := decodeBinary(whole)
			w.Binary = payload
			return w, err
		}
		if done {
			return decodeWire(whole)
		}
	}
	t.Fatal("no last chunk")
	return wire{}, nil
}

func TestChunks(t *testing.T) {
	big := strings.Repeat("é", 3*protocol.ChunkSize) // multi-byte runes cut across chunks
	data, _ := json.Marshal(big)
	for _, n := range []int{0, 1, protocol.ChunkSize - 1, protocol.ChunkSize, 5 << 20} {
		payload := bytes.Repeat([]byte{0, 0xff, 7}, n)[:n]
		w, err := roundTrip(t, chunkBinary(encodeBinaryHeader("al\"ice"), payload), 64<<20)
		if err != nil || w.Type != typeData || w.SenderID != "al\"ice" || !bytes.Equal(w.Binary, payload) {
			t.Fatalf("binary of %d bytes: %+v (%d bytes), %v", n, w.Type, len(w.Binary), err)
		}
	}
	pieces := chunkText(encodeRelay("bob", data))
	if len(pieces) < 3 {
		t.Fatalf("%d pieces for %d bytes", len(pieces), len(data))
	}
	w, err := roundTrip(t, pieces, 64<<20)
	if err != nil || w.SenderID != "bob" || string(w.Data) != string(data) {
		t.Fatalf("chunked text: %v", err)
	}
	if p := chunkText(`{"type":"Heartbeat"}`); len(p) != 1 || p[0].text == "" {
		t.Fatal("a small message is one text message")
	}
	if _, err := roundTrip(t, pieces, 1000); !errors.Is(err, errChunkTooLarge) {
		t.Fatalf("over the bound: %v", err)
	}
	// An abort drops the part received; the next message is whole.
	var r reassembler
	r.add(pieces[0].bin, 64<<20)
	r.add([]byte{flagAbort}, 64<<20)
	if w, err := roundTrip(t, pieces, 64<<20); err != nil || string(w.Data) != string(data) {
		t.Fatalf("after an abort: %v", err)
	}
	if _, _, err := decodeBinary([]byte{0, 0, 0, 9, '{'}); err == nil {
		t.Fatal("a header longer than the message is refused")
	}
}

// FuzzReassemble: chunks from a peer never panic the reader, and never
// grow it past the bound.
func FuzzReassemble(f *testing.F) {
	f.Add([]byte{flagMore, 'a'}, []byte{flagBinary, 0, 0, 0, 2, '{', '}', 1})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var r reassembler
		for _, c := range [][]byte{a, b, a} {
			whole, isBin, done, _ := r.add(c, 100)
			if len(r.buf) > 100 || len(whole) > 100 {
				t.Fatal("past the bound")
			}
			if done && isBin {
				decodeBinary(whole)
			}
		}
	})
}
