package testvideo

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"golang.org/x/image/vp8"
)

// decode decodes frame with golang.org/x/image/vp8, an independent decoder.
func decode(t *testing.T, frame []byte) (w, h int, y byte) {
	t.Helper()
	d := vp8.NewDecoder()
	d.Init(bytes.NewReader(frame), len(frame))
	fh, err := d.DecodeFrameHeader()
	if err != nil {
		t.Fatal(err)
	}
	if !fh.KeyFrame || !fh.ShowFrame {
		t.Fatalf("header %+v: want a shown keyframe", fh)
	}
	img, err := d.DecodeFrame()
	if err != nil {
		t.Fatal(err)
	}
	return fh.Width, fh.Height, img.Y[len(img.Y)/2]
}

func TestKeyframeDecodes(t *testing.T) {
	for _, c := range []struct{ w, h, size int }{{320, 240, 0}, {17, 33, 0}, {640, 360, 4000}, {1, 1, 0}, {1920, 1080, 0}} {
		f, err := Keyframe(c.w, c.h, c.size)
		if err != nil {
			t.Fatal(err)
		}
		if len(f) < c.size {
			t.Errorf("%dx%d: %d bytes, want ≥ %d", c.w, c.h, len(f), c.size)
		}
		w, h, y := decode(t, f)
		if w != c.w || h != c.h {
			t.Errorf("decoded %dx%d, want %dx%d", w, h, c.w, c.h)
		}
		if y != 128 {
			t.Errorf("%dx%d: luma %d, want flat grey 128", c.w, c.h, y)
		}
	}
}

func TestKeyframeRefusesBadSizes(t *testing.T) {
	for _, wh := range [][2]int{{0, 10}, {10, 0}, {-1, 5}, {MaxSide + 1, 10}} {
		if _, err := Keyframe(wh[0], wh[1], 0); !errors.Is(err, ErrSize) {
			t.Errorf("%v: %v, want ErrSize", wh, err)
		}
	}
}

func TestFramesCountsAndStops(t *testing.T) {
	n := 0
	err := Frames(nil, 32, 32, 0, 1000, 5, func([]byte, time.Duration) error { n++; return nil })
	if err != nil || n != 5 {
		t.Errorf("Frames: %d frames, %v; want 5, nil", n, err)
	}
	stop := make(chan struct{})
	close(stop)
	n = 0
	if err := Frames(stop, 32, 32, 0, 1000, 0, func([]byte, time.Duration) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("stopped: %d frames, %v; want 1, nil", n, err)
	}
	boom := errors.New("boom")
	if err := Frames(nil, 32, 32, 0, 1000, 0, func([]byte, time.Duration) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("send's error: %v", err)
	}
}
