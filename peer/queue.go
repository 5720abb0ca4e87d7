package peer

import "sync"

// queue is an unbounded FIFO with one consumer. Producers never block: they
// are pion's callbacks and the signaling reader, which must not stall. The
// consumer waits on wake and takes everything at once.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	spare  []T // the previous batch's backing array, reused
	closed bool
	wake   chan struct{} // capacity 1: "items is not empty"
}

func newQueue[T any]() *queue[T] { return &queue[T]{wake: make(chan struct{}, 1)} }

// push appends v; it reports false (and drops v) once the queue is closed.
func (q *queue[T]) push(v T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns every queued item, oldest first, and whether the queue is
// closed. The returned slice is valid until the next take.
func (q *queue[T]) take() ([]T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.items
	clear(q.spare)
	q.items, q.spare = q.spare[:0], batch
	return batch, q.closed
}

// close makes later pushes fail; items already queued stay for take.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
