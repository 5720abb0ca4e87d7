package testvideo

// boolEncoder is VP8's boolean entropy encoder (RFC 6386 7.3).
type boolEncoder struct {
	out      []byte
	rng      uint32 // range, 128..255 between calls
	bottom   uint32
	bitCount int
	started  bool
}

func (e *boolEncoder) bool(prob uint8, value bool) {
	if !e.started {
		e.rng, e.bitCount, e.started = 255, 24, true
	}
	split := 1 + (((e.rng - 1) * uint32(prob)) >> 8)
	if value {
		e.bottom += split
		e.rng -= split
	} else {
		e.rng = split
	}
	for e.rng < 128 {
		e.rng <<= 1
		if e.bottom&(1<<31) != 0 {
			e.carry()
		}
		e.bottom <<= 1
		e.bitCount--
		if e.bitCount == 0 {
			e.out = append(e.out, byte(e.bottom>>24))
			e.bottom &= 1<<24 - 1
			e.bitCount = 8
		}
	}
}

// literal writes the n low bits of v, most significant first, at even odds.
func (e *boolEncoder) literal(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		e.bool(128, v>>i&1 == 1)
	}
}

// carry adds one to what was written.
func (e *boolEncoder) carry() {
	i := len(e.out) - 1
	for ; i >= 0 && e.out[i] == 255; i-- {
		e.out[i] = 0
	}
	if i >= 0 {
		e.out[i]++
	}
}

// flush writes what is pending and returns the encoded bytes.
func (e *boolEncoder) flush() []byte {
	if !e.started {
		e.rng, e.bitCount, e.started = 255, 24, true
	}
	c, v := e.bitCount, e.bottom
	if v&(1<<(32-c)) != 0 {
		e.carry()
	}
	v <<= c & 7
	for c >>= 3; c > 0; c-- {
		v <<= 8
	}
	for range 4 {
		e.out = append(e.out, byte(v>>24))
		v <<= 8
	}
	return e.out
}
